package apiauth_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/audimodal"
)

// Issue 14, state on demand: TokenCache.State and Client.RateLimitState
// tell what the stack knows, with no secret.

const (
	stateCanary        = "tok-CANARY-5f3a9c1e7b"
	stateRefreshCanary = "rt-CANARY-0d8e2b4a61"
)

// TestCacheStateLifecycle follows a cache's snapshot through a first
// fetch, a refresh ahead of expiry, a failed refresh after expiry, the
// retry that succeeds, a failed refresh ahead of expiry (the token still
// served) and Close. No snapshot shows the token.
func TestCacheStateLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mode atomic.Int32 // 0 ok, 1 fail, 2 block until release
		release := make(chan struct{})
		var n atomic.Int32
		src := apiauth.TokenSourceFunc(func(ctx context.Context) (*apiauth.Token, error) {
			switch mode.Load() {
			case 1:
				return nil, errors.New("token endpoint down")
			case 2:
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			n.Add(1)
			return &apiauth.Token{AccessToken: stateCanary + string(rune('a'+n.Load())), RefreshToken: stateRefreshCanary,
				Expiry: time.Now().Add(time.Hour)}, nil
		})
		c := apiauth.NewTokenCache(src, &apiauth.CacheOptions{MinBackoff: time.Second, MaxBackoff: time.Second})
		defer c.Close()
		check := func(step string, want apiauth.CacheState) apiauth.CacheState {
			t.Helper()
			got := c.State()
			if got.Status != want.Status || !got.Expiry.Equal(want.Expiry) || got.Refreshing != want.Refreshing ||
				got.Failures != want.Failures || !strings.Contains(got.LastError, want.LastError) || (want.LastError == "") != (got.LastError == "") {
				t.Errorf("%s: State() = %+v, want %+v", step, got, want)
			}
			assertHides(t, got, stateCanary, stateRefreshCanary)
			return got
		}

		check("before any call", apiauth.CacheState{Status: apiauth.CacheWaiting})
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		check("after the first fetch", apiauth.CacheState{Status: apiauth.CacheFresh, Expiry: exp})

		time.Sleep(56 * time.Minute) // inside the 5 min refresh-ahead window
		check("stale, nobody called", apiauth.CacheState{Status: apiauth.CacheStale, Expiry: exp})
		mode.Store(2)
		if _, err := c.Token(context.Background()); err != nil { // served, refresh starts
			t.Fatal(err)
		}
		synctest.Wait()
		check("stale, refreshing", apiauth.CacheState{Status: apiauth.CacheStale, Expiry: exp, Refreshing: true})
		mode.Store(0)
		close(release)
		synctest.Wait()
		exp = time.Now().Add(time.Hour)
		check("after the refresh", apiauth.CacheState{Status: apiauth.CacheFresh, Expiry: exp})

		time.Sleep(time.Hour) // expired
		check("expired", apiauth.CacheState{Status: apiauth.CacheWaiting, Expiry: exp})
		mode.Store(1)
		var re *apiauth.RefreshError
		if _, err := c.Token(context.Background()); !errors.As(err, &re) {
			t.Fatalf("err = %v, want a *RefreshError", err)
		}
		s := check("after a failed refresh", apiauth.CacheState{Status: apiauth.CacheFailing, Expiry: exp,
			Failures: 1, LastError: "token endpoint down"})
		if !s.NextAttempt.Equal(re.Next) || !s.NextAttempt.After(time.Now()) {
			t.Errorf("NextAttempt = %v, want the RefreshError's %v, in the future", s.NextAttempt, re.Next)
		}

		mode.Store(0)
		time.Sleep(time.Second) // the backoff
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		exp = time.Now().Add(time.Hour)
		s = check("after the retry", apiauth.CacheState{Status: apiauth.CacheFresh, Expiry: exp})
		if !s.NextAttempt.IsZero() {
			t.Errorf("NextAttempt = %v after a success, want zero", s.NextAttempt)
		}

		time.Sleep(56 * time.Minute)
		mode.Store(1)
		if _, err := c.Token(context.Background()); err != nil { // the stale token is served
			t.Fatal(err)
		}
		synctest.Wait()
		check("failed refresh ahead, token still valid", apiauth.CacheState{Status: apiauth.CacheFailing, Expiry: exp,
			Failures: 1, LastError: "token endpoint down"})

		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		check("closed", apiauth.CacheState{Status: apiauth.CacheClosed})
	})
}

// TestCacheStateConcurrent: State is race-free while callers fetch,
// invalidate and refresh.
func TestCacheStateConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		src := apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
			time.Sleep(20 * time.Millisecond)
			return &apiauth.Token{AccessToken: stateCanary + strconv.FormatInt(n.Add(1), 10), Expiry: time.Now().Add(time.Second)}, nil
		})
		c := apiauth.NewTokenCache(src, nil)
		defer c.Close()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range 200 {
					tok, err := c.Token(context.Background())
					if err == nil && i == 150 {
						c.Invalidate(tok)
					}
					time.Sleep(7 * time.Millisecond)
				}
			})
		}
		statuses := map[apiauth.CacheStatus]bool{}
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-done:
					return
				default:
				}
				statuses[c.State().Status] = true
				time.Sleep(3 * time.Millisecond)
			}
		}()
		wg.Wait()
		close(done)
		<-sampled
		if !statuses[apiauth.CacheFresh] || !statuses[apiauth.CacheStale] {
			t.Errorf("statuses seen: %v, want fresh and stale among them", statuses)
		}
	})
}

// TestClientRateLimitState: after known traffic to the fake AudiModal, the
// client's rate-limit snapshot holds the limit, remaining count and reset
// that the last answer sent, under a hash of the key; it is race-free
// while requests run, and no rendering of it shows the key. The client
// runs in a synctest bubble (over inProcess), where Pace's spacing of the
// requests takes no real time.
func TestClientRateLimitState(t *testing.T) {
	srv := startFake(t, apiauthtest.Config{AudiModalRateLimit: apiauthtest.RateLimit{Limit: 500, Window: time.Hour}})
	synctest.Test(t, func(t *testing.T) { testClientRateLimitState(t, srv) })
}

func testClientRateLimitState(t *testing.T, srv *apiauthtest.Server) {
	key := apiauthtest.AudiModalLiveKey
	var mu sync.Mutex
	var last *apiauth.Response
	am := audimodal.Client{Client: inProcessClient(t, srv, apiauthtest.AudiModal, must(apiauth.ParseAPIKey(key))(t),
		&apiauth.ClientOptions{OnResponse: func(r *apiauth.Response) {
			mu.Lock()
			defer mu.Unlock()
			last = r
		}})}
	if st := am.RateLimitState(); len(st) != 0 {
		t.Fatalf("state before any request: %+v, want none", st)
	}
	ctx := t.Context()
	for range 5 {
		if _, err := am.Health(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, sent int64) {
		t.Helper()
		st := am.RateLimitState()
		if len(st) != 1 {
			t.Fatalf("%s: %d states, want 1: %+v", step, len(st), st)
		}
		s, rl := st[0], last.RateLimit
		if s.Host != am.BaseURL().Host || s.Identity == "" || strings.Contains(s.Identity, key) {
			t.Errorf("%s: host %q, identity %q: want %q and a non-secret identity", step, s.Host, s.Identity, am.BaseURL().Host)
		}
		if s.Limit != rl.Limit || s.Remaining != rl.Remaining || !s.Reset.Equal(rl.Reset) || s.InFlight != 0 {
			t.Errorf("%s: state %+v, want the last answer's limit %d, remaining %d, reset %v, none in flight",
				step, s, rl.Limit, rl.Remaining, rl.Reset)
		}
		if s.Limit != 500 || s.Remaining != 500-sent {
			t.Errorf("%s: limit %d, remaining %d; want 500 and %d", step, s.Limit, s.Remaining, 500-sent)
		}
		assertHides(t, st, key)
		assertHides(t, s, key)
	}
	check("after 5 requests", 5)

	// Concurrent traffic and snapshots: race-free.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := am.Health(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			for _, s := range am.RateLimitState() {
				if s.InFlight < 0 || s.InFlight > 4 {
					t.Errorf("in flight = %d", s.InFlight)
				}
			}
		}
	})
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	check("after 25 requests", 25)
}
