package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

// A lock key without a TTL is no holder's (every holder sets one): it is
// treated as stale after one lease, and taken over then, instead of
// blocking every waiter for ever. Issue 13 row 5.
func TestLockTakesOverKeyWithoutTTL(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	const lease = 300 * time.Millisecond
	s := newStore(t, srv, redisstore.TokenOptions{Lease: lease, PollInterval: 50 * time.Millisecond})
	lk := redisKey(testPrefix(t), "k", "lock")
	if err := raw.Set(bg, lk, "left-by-hand", 0).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(bg, 3*time.Second)
	defer cancel()
	var unlock func()
	bounded(t, 5*time.Second, "LockToken", func() {
		var err error
		if unlock, err = s.LockToken(ctx, "k"); err != nil {
			t.Errorf("LockToken over a lock key without TTL: %v", err)
		}
	})
	if unlock == nil {
		return
	}
	waited := time.Since(start)
	if waited < lease-10*time.Millisecond {
		t.Errorf("took the lock after %v, before one lease (%v) had passed", waited, lease)
	}
	if v, _ := raw.Get(bg, lk).Result(); v == "left-by-hand" || v == "" {
		t.Errorf("lock value = %q, want our fencing token", v)
	}
	if ttl, _ := raw.PTTL(bg, lk).Result(); ttl <= 0 {
		t.Errorf("our lock's PTTL = %v, want a lease", ttl)
	}
	unlock()
	if n, _ := raw.Exists(bg, lk).Result(); n != 0 {
		t.Error("lock key left after unlock")
	}
}

// A token cache whose fleet lock was left in Redis without a TTL still gets
// a token within its RefreshTimeout: with a lease longer than half of it,
// by refreshing without the lock; with a shorter one, by taking the stale
// lock over.
func TestCacheRefreshesPastLockWithoutTTL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lease     time.Duration
		takenOver bool
	}{
		{"lease longer than half of RefreshTimeout", 5 * time.Second, false},
		{"lease shorter than half of RefreshTimeout", 200 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bg := ctxFor(t)
			srv := redistest.Start(t)
			raw := rawClient(t, srv)
			fake := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
			defer fake.Close()
			prefix := testPrefix(t)
			lk := redisKey(prefix, storeKey, "lock")
			if err := raw.Set(bg, lk, "left-by-hand", 0).Err(); err != nil {
				t.Fatal(err)
			}
			store := newStore(t, srv, redisstore.TokenOptions{Prefix: prefix, Lease: tc.lease, PollInterval: 50 * time.Millisecond})
			const timeout = 2 * time.Second
			c := newLoginCache(t, fake, store, apiauth.CacheOptions{RefreshTimeout: timeout})
			start := time.Now()
			var tok *apiauth.Token
			var err error
			bounded(t, 10*time.Second, "Token", func() { tok, err = c.Token(bg) })
			if took := time.Since(start); took > timeout+500*time.Millisecond {
				t.Errorf("Token took %v, more than RefreshTimeout %v", took, timeout)
			}
			if err != nil {
				t.Fatalf("Token with a lock key left without TTL: %v", err)
			}
			if tok == nil || tok.AccessToken == "" {
				t.Fatal("no token")
			}
			if n := fake.Stats().AudiModal.Logins; n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
			if st, err := store.LoadToken(bg, storeKey); err != nil || st == nil || st.AccessToken != tok.AccessToken {
				t.Errorf("store holds %v (%v), want the token fetched", st, err)
			}
			v, err := raw.Get(bg, lk).Result()
			gone := errors.Is(err, redis.Nil)
			if tc.takenOver && !gone {
				t.Errorf("lock key = %q after the refresh, want it taken over and released", v)
			}
			if !tc.takenOver {
				if ttl, _ := raw.PTTL(bg, lk).Result(); !gone && ttl <= 0 {
					t.Errorf("lock key without TTL left as it was (PTTL %v), want one lease", ttl)
				}
			}
		})
	}
}
