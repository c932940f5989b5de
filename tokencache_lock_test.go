package apiauth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A refresh lock whose holder never lets go (a slow or stuck replica, or a
// lock left behind) costs a waiting cache half of its RefreshTimeout: it
// then refreshes on its own with the other half, and its caller gets a
// token, as the README promises, instead of a deadline error and no fetch.
// Issue 13 row 5.
func TestLockHeldForeverWaiterRefreshesOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		store := &MemoryStore{}
		unlock, err := store.LockToken(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		defer unlock() // never before the end: the holder is stuck
		var calls atomic.Int32
		var fetchedAt time.Duration
		start := time.Now()
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			calls.Add(1)
			fetchedAt = time.Since(start)
			// The fetch has a budget of its own left: the rest of the
			// refresh's time, not a context the lock wait spent.
			if d, ok := ctx.Deadline(); !ok || time.Until(d) < timeout/2-time.Millisecond {
				t.Errorf("fetch context: %v left, want about %v", time.Until(d), timeout/2)
			}
			time.Sleep(timeout / 4) // a slow token endpoint still fits
			return &Token{AccessToken: "own", Expiry: time.Now().Add(time.Hour)}, nil
		})
		c := NewTokenCache(src, &CacheOptions{Store: store, StoreKey: "k", RefreshTimeout: timeout})
		defer c.Close()

		tok, err := c.Token(context.Background())
		if err != nil {
			t.Fatalf("Token with the lock held forever: %v", err)
		}
		if tok.AccessToken != "own" || calls.Load() != 1 {
			t.Errorf("got %q after %d fetches, want the cache's own token after 1", tok.AccessToken, calls.Load())
		}
		if fetchedAt != timeout/2 {
			t.Errorf("fetched %v after the start, want after the lock wait's share, %v", fetchedAt, timeout/2)
		}
		if took := time.Since(start); took > timeout {
			t.Errorf("Token took %v, more than RefreshTimeout %v", took, timeout)
		}
		if st, _ := store.LoadToken(context.Background(), "k"); st == nil || st.AccessToken != "own" {
			t.Errorf("store holds %v, want the token fetched without the lock", st)
		}
	})
}

// recordingLocker grants the lock at once and records the context it was
// given, which a locker may use to keep the lock alive (redisstore renews
// its lease while that context lives).
type recordingLocker struct {
	MemoryStore
	ctx      context.Context
	unlocked atomic.Bool
}

func (l *recordingLocker) LockToken(ctx context.Context, key string) (func(), error) {
	l.ctx = ctx
	return func() { l.unlocked.Store(true) }, nil
}

// The share of RefreshTimeout given to the lock wait bounds the wait only:
// a lock taken in time stays alive (its context is not done) for the whole
// fetch, even one that lasts past that share, and is released after it.
func TestLockHeldThroughTheWholeFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		l := &recordingLocker{}
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			time.Sleep(timeout * 3 / 4)
			if err := l.ctx.Err(); err != nil {
				t.Errorf("lock context done during the fetch (%v): the lock would lapse", err)
			}
			if l.unlocked.Load() {
				t.Error("lock released before the fetch ended")
			}
			return &Token{AccessToken: "t", Expiry: time.Now().Add(time.Hour)}, nil
		})
		c := NewTokenCache(src, &CacheOptions{Store: l, StoreKey: "k", RefreshTimeout: timeout})
		defer c.Close()
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !l.unlocked.Load() {
			t.Error("lock not released after the refresh")
		}
		if l.ctx.Err() == nil {
			t.Error("lock context still alive after the refresh")
		}
	})
}

// A holder that releases within the waiter's share hands it the token it
// stored: the waiter adopts it and fetches nothing.
func TestLockReleasedInTimeTokenAdopted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		store := &MemoryStore{}
		unlock, err := store.LockToken(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(timeout/2 - time.Second)
			store.StoreToken(context.Background(), "k", &Token{AccessToken: "holder's", Expiry: time.Now().Add(time.Hour)})
			unlock()
		}()
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			return nil, errors.New("must not be called")
		})
		c := NewTokenCache(src, &CacheOptions{Store: store, StoreKey: "k", RefreshTimeout: timeout})
		defer c.Close()
		tok, err := c.Token(context.Background())
		if err != nil || tok.AccessToken != "holder's" {
			t.Fatalf("Token = %v, %v; want the holder's token", tok, err)
		}
	})
}
