package apiauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

// fltFleetBodyCases are the fault-matrix rows for fleet locks and request bodies: issue 13 rows 5, 7.
func fltFleetBodyCases() []fltCase {
	artos := func(s *fltServer) string { return s.URL + "/artos" }
	const storeKey = "artos:fleet"
	// lockTimeout is the rows' RefreshTimeout: the lock wait gets half.
	const lockTimeout = time.Second
	// fleetGet makes one GET through a cache sharing store, and checks that
	// it ended within RefreshTimeout.
	fleetGet := func(t *testing.T, ctx context.Context, srv *fltServer, store apiauth.TokenStore) fltOutcome {
		cache := fltArtosCache(t, artos(srv), apiauth.CacheOptions{Store: store, StoreKey: storeKey, RefreshTimeout: lockTimeout})
		c := fltClient(t, artos(srv), cache, apiauth.ClientOptions{})
		start := time.Now()
		_, err := c.Get(ctx, "api/v1/documents/", nil)
		took := time.Since(start)
		if took > lockTimeout+500*time.Millisecond {
			t.Errorf("took %v with the lock held, more than RefreshTimeout %v", took, lockTimeout)
		}
		return fltOutcome{err: err, note: "; answered after " + took.Round(10*time.Millisecond).String()}
	}
	return []fltCase{
		// Issue 13 row 5: a refresh lock held longer than RefreshTimeout.
		{
			name: "fleet refresh lock never released (MemoryStore)",
			want: "success: the waiter refreshes on its own after half of RefreshTimeout", api: 1, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				_, srv := fltFake(t, apiauthtest.Config{}, nil)
				*s = srv
				store := &apiauth.MemoryStore{}
				unlock, err := store.LockToken(ctx, storeKey) // a holder that is stuck
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				return fleetGet(t, ctx, srv, store)
			},
		},
		{
			name: "fleet refresh lock key left in Redis without TTL",
			want: "success: the waiter refreshes on its own after half of RefreshTimeout", api: 1, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				rs := redistest.Start(t)
				_, srv := fltFake(t, apiauthtest.Config{}, nil)
				*s = srv
				raw := redistest.NewClient(t, rs)
				const prefix = "flt:nottl:"
				sum := sha256.Sum256([]byte(storeKey))
				lk := prefix + "{" + hex.EncodeToString(sum[:]) + "}:lock"
				if err := raw.Set(ctx, lk, "left-by-hand", 0).Err(); err != nil {
					t.Fatal(err)
				}
				store, err := redisstore.NewTokenStore(redistest.NewClient(t, rs), &redisstore.TokenOptions{Prefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				out := fleetGet(t, ctx, srv, store)
				if ttl, _ := raw.PTTL(ctx, lk).Result(); ttl < 0 {
					t.Errorf("lock key still without TTL (PTTL %v), want one lease", ttl)
				}
				return out
			},
		},
	}
}
