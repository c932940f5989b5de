package apiauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
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
	// pipePut sends a PUT whose body is an io.Pipe with a known
	// ContentLength, under a deadline: the producer writes the whole body,
	// then closes the pipe only once the call has returned (it waits for
	// the answer). The call must end by the deadline at the latest; a
	// watchdog closes the pipe 3 s after it, to end a call that would
	// block for ever and report it.
	pipePut := func(t *testing.T, ctx context.Context, srv *fltServer, deadline time.Duration) fltOutcome {
		const size = 4 << 10
		pr, pw := io.Pipe()
		answered := make(chan struct{})
		produced := make(chan struct{})
		go func() {
			defer close(produced)
			if _, err := pw.Write(bytes.Repeat([]byte("x"), size)); err != nil {
				return
			}
			select {
			case <-answered:
				pw.Close()
			case <-time.After(deadline + 3*time.Second):
				pw.CloseWithError(errors.New("watchdog: the PUT was still blocked"))
			}
		}()
		defer func() { <-produced }()
		c := fltClient(t, srv.URL, fltStatic(t, fltOpaque), apiauth.ClientOptions{})
		ctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		req, err := c.NewRequest(ctx, http.MethodPut, "v1/files/report", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Body, req.ContentLength = pr, size
		start := time.Now()
		_, err = c.Do(req, nil)
		took := time.Since(start)
		close(answered)
		if took > deadline+time.Second {
			t.Errorf("the PUT returned %v after the start, more than a second past its %v deadline", took, deadline)
		}
		return fltOutcome{err: err, note: "; returned after " + took.Round(10*time.Millisecond).String()}
	}
	return []fltCase{
		// Issue 13 row 7: a streamed request body that ends after the answer.
		{
			name: "PUT, io.Pipe body of known length closed after the answer",
			want: "success: answered, as in plain net/http", api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(http.StatusOK, `{"id":"report"}`))
				*s = srv
				return pipePut(t, ctx, srv, 5*time.Second)
			},
		},
		{
			name: "PUT, io.Pipe body of known length closed after the answer, no answer before the deadline",
			want: "context.DeadlineExceeded at the deadline (300ms)", match: []fltMatch{fltIs(context.DeadlineExceeded, "context.DeadlineExceeded")}, api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltBlock(make(chan struct{}, 1), nil))
				*s = srv
				return pipePut(t, ctx, srv, 300*time.Millisecond)
			},
		},

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
