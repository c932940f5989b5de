package apiauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingSource issues numbered tokens with a fixed lifetime, optionally
// slowly or failing; it counts its calls.
type countingSource struct {
	mu       sync.Mutex
	calls    int
	life     time.Duration
	delay    time.Duration
	failNext int // the next n calls fail
	down     bool
}

func (s *countingSource) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	fail := s.down || s.failNext > 0
	if s.failNext > 0 {
		s.failNext--
	}
	delay, life := s.delay, s.life
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail {
		return nil, errors.New("token endpoint unavailable")
	}
	return &Token{AccessToken: "token-" + strconv.Itoa(n), Expiry: time.Now().Add(life)}, nil
}

func (s *countingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestCacheOneFetchFor1000Callers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour, delay: 50 * time.Millisecond}
		c := NewTokenCache(src, nil)
		defer c.Close()
		var wg sync.WaitGroup
		var errs atomic.Int32
		for range 1000 {
			wg.Go(func() {
				tok, err := c.Token(context.Background())
				if err != nil || tok.AccessToken != "token-1" {
					errs.Add(1)
				}
			})
		}
		wg.Wait()
		if src.count() != 1 || errs.Load() != 0 {
			t.Fatalf("calls = %d, errors = %d; want 1 call, 0 errors", src.count(), errs.Load())
		}
		// Let it expire: 1000 callers on an expired cache, one fetch.
		time.Sleep(2 * time.Hour)
		for range 1000 {
			wg.Go(func() {
				if tok, err := c.Token(context.Background()); err != nil || tok.AccessToken != "token-2" {
					errs.Add(1)
				}
			})
		}
		wg.Wait()
		if src.count() != 2 || errs.Load() != 0 {
			t.Fatalf("after expiry: calls = %d, errors = %d; want 2 calls, 0 errors", src.count(), errs.Load())
		}
	})
}

func TestCacheConcurrentInvalidateOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour, delay: 10 * time.Millisecond}
		c := NewTokenCache(src, nil)
		defer c.Close()
		tok, err := c.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var dropped atomic.Int32
		for range 1000 {
			wg.Go(func() {
				if c.Invalidate(tok) {
					dropped.Add(1)
				}
				if got, err := c.Token(context.Background()); err != nil || got == tok {
					t.Errorf("after invalidate: %v, %v", got, err)
				}
			})
		}
		wg.Wait()
		if dropped.Load() != 1 || src.count() != 2 {
			t.Fatalf("dropped = %d, source calls = %d; want 1 and 2", dropped.Load(), src.count())
		}
		if c.Invalidate(tok) {
			t.Error("invalidating an old token dropped the new one")
		}
	})
}

func TestCacheStaleWindowNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour, delay: 200 * time.Millisecond}
		c := NewTokenCache(src, nil)
		defer c.Close()
		first, _ := c.Token(context.Background())
		// Into the refresh-ahead window (5 min before expiry).
		time.Sleep(time.Hour - 4*time.Minute)
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				start := time.Now()
				tok, err := c.Token(context.Background())
				if err != nil || tok != first || time.Since(start) != 0 {
					t.Errorf("stale caller: tok=%v err=%v waited %v", tok, err, time.Since(start))
				}
			})
		}
		wg.Wait()
		time.Sleep(250 * time.Millisecond) // the background refresh ends
		tok, _ := c.Token(context.Background())
		if tok.AccessToken != "token-2" || src.count() != 2 {
			t.Fatalf("after refresh: %s, calls = %d; want token-2 and 2 calls", tok.AccessToken, src.count())
		}
	})
}

func TestCacheFailedRefreshesKeepOldToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		c := NewTokenCache(src, nil)
		defer c.Close()
		first, _ := c.Token(context.Background())
		src.mu.Lock()
		src.failNext = 3
		src.mu.Unlock()
		time.Sleep(56 * time.Minute) // stale: refreshes start
		// Poll once a second for a minute: the 3 failures back off
		// (about 1 s, 2 s, 4 s) and the 4th attempt succeeds.
		var got *Token
		for range 60 {
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatalf("caller saw an error while the old token was valid: %v", err)
			}
			got = tok
			time.Sleep(time.Second)
		}
		if got == first || got.AccessToken != "token-5" || src.count() != 5 {
			t.Fatalf("got %s after %d calls; want token-5 after 5 (1 + 3 failures + 1)", got.AccessToken, src.count())
		}
	})
}

func TestCacheDownPastExpiryTypedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		var refreshErrs atomic.Int32
		c := NewTokenCache(src, &CacheOptions{OnRefreshError: func(error, time.Time) { refreshErrs.Add(1) }})
		defer c.Close()
		_, _ = c.Token(context.Background())
		src.mu.Lock()
		src.down = true
		src.mu.Unlock()
		time.Sleep(time.Hour + time.Minute)
		_, err := c.Token(context.Background())
		var re *RefreshError
		if !errors.As(err, &re) || !errors.Is(err, ErrTokenRefresh) || re.Failures == 0 {
			t.Fatalf("err = %v; want *RefreshError matching ErrTokenRefresh", err)
		}
		if refreshErrs.Load() == 0 {
			t.Error("OnRefreshError never called")
		}
		// Inside the backoff, callers fail fast without calling the source.
		n := src.count()
		if _, err := c.Token(context.Background()); !errors.As(err, &re) || src.count() != n {
			t.Errorf("during backoff: err = %v, calls %d -> %d", err, n, src.count())
		}
		// Back up: the next attempt after the backoff succeeds.
		src.mu.Lock()
		src.down = false
		src.mu.Unlock()
		time.Sleep(DefaultMaxBackoff)
		if tok, err := c.Token(context.Background()); err != nil || tok == nil {
			t.Fatalf("after recovery: %v, %v", tok, err)
		}
	})
}

func TestCacheWaiterGivesUpOthersGetToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour, delay: 2 * time.Second}
		c := NewTokenCache(src, nil)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		var other *Token
		var wg sync.WaitGroup
		wg.Go(func() { other, _ = c.Token(context.Background()) })
		start := time.Now()
		_, err := c.Token(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("impatient caller: err = %v after %v", err, time.Since(start))
		}
		wg.Wait()
		if other == nil || other.AccessToken != "token-1" || src.count() != 1 {
			t.Fatalf("patient caller got %v after %d calls", other, src.count())
		}
	})
}

// reuseSource mimics oauth2.ReuseTokenSource over a source that rotates
// only when asked: it returns the same token until 10 s before expiry.
func TestCacheUnchangedTokenDoesNotSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var gen atomic.Int32
		base := oauth2TokenSourceFunc(func() (*oauth2.Token, error) {
			n := gen.Add(1)
			return &oauth2.Token{AccessToken: fmt.Sprintf("oauth-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
		})
		reuse := oauth2.ReuseTokenSource(nil, base)
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			calls.Add(1)
			return FromOAuth2(reuse).Token(ctx)
		})
		c := NewTokenCache(src, nil)
		defer c.Close()
		first, _ := c.Token(context.Background())
		time.Sleep(55*time.Minute + time.Second) // stale window begins
		for range 5 * 60 * 10 {                  // poll every 100 ms until expiry
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatalf("err = %v at %v", err, time.Now())
			}
			if tok != first {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Backoff 1, 2, 4, 8, 16, 30, 30... s, each jittered down to half,
		// over ~5 min: at most 26 calls (every wait at its shortest), not the
		// thousands a spinning cache would make.
		if n := calls.Load(); n > 28 {
			t.Fatalf("source called %d times during the refresh window", n)
		}
		tok, _ := c.Token(context.Background())
		if tok.AccessToken != "oauth-2" {
			t.Fatalf("token = %s, want the rotated oauth-2", tok.AccessToken)
		}
	})
}

type oauth2TokenSourceFunc func() (*oauth2.Token, error)

func (f oauth2TokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

func TestCacheCloseStopsRefresh(t *testing.T) {
	src := &countingSource{life: time.Hour, delay: time.Hour}
	c := NewTokenCache(src, nil)
	done := make(chan error, 1)
	go func() { _, err := c.Token(context.Background()); done <- err }()
	for src.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = c.Close()
	if err := <-done; err == nil {
		t.Fatal("waiter got no error after Close")
	}
	if _, err := c.Token(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Token after Close: %v", err)
	}
	goleak.VerifyNone(t)
}

func TestCacheOnTokenAndStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemoryStore{}
		src1 := &countingSource{life: time.Hour}
		src2 := &countingSource{life: time.Hour}
		var seen []string
		c1 := NewTokenCache(src1, &CacheOptions{Store: store, StoreKey: "k", OnToken: func(t *Token) { seen = append(seen, t.AccessToken) }})
		defer c1.Close()
		c2 := NewTokenCache(src2, &CacheOptions{Store: store, StoreKey: "k"})
		defer c2.Close()
		t1, _ := c1.Token(context.Background())
		t2, _ := c2.Token(context.Background())
		if t1.AccessToken != t2.AccessToken || src2.count() != 0 {
			t.Fatalf("second cache fetched its own token (%s vs %s, %d calls)", t1.AccessToken, t2.AccessToken, src2.count())
		}
		synctest.Wait() // OnToken runs after waiters are released
		if len(seen) != 1 || seen[0] != t1.AccessToken {
			t.Fatalf("OnToken saw %v", seen)
		}
	})
}

// jwtFor mints an HS256 JWT with the given claims.
func jwtFor(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test-signing-key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenExpiryFromJWT(t *testing.T) {
	now := time.Now()
	unix := func(d time.Duration) int64 { return now.Add(d).Unix() }
	noneTok := func(claims string) string {
		return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + b64(claims) + "."
	}
	big := jwtFor(t, jwt.MapClaims{"exp": unix(time.Hour), "pad": string(make([]byte, 20<<10))})
	for _, tc := range []struct {
		name string
		tok  string
		life time.Duration // 0 = unknown
	}{
		{"valid exp", jwtFor(t, jwt.MapClaims{"exp": unix(time.Hour)}), time.Hour},
		{"exp+iat, server in sync", jwtFor(t, jwt.MapClaims{"iat": unix(0), "exp": unix(time.Hour)}), time.Hour},
		{"exp+iat, server 10 min ahead", jwtFor(t, jwt.MapClaims{"iat": unix(10 * time.Minute), "exp": unix(70 * time.Minute)}), time.Hour},
		{"exp+iat, server 10 min behind", jwtFor(t, jwt.MapClaims{"iat": unix(-10 * time.Minute), "exp": unix(50 * time.Minute)}), time.Hour},
		{"exp+iat, server 10 min behind, short token", jwtFor(t, jwt.MapClaims{"iat": unix(-10 * time.Minute), "exp": unix(-5 * time.Minute)}), 5 * time.Minute},
		{"exp without iat, already past", jwtFor(t, jwt.MapClaims{"exp": unix(-time.Minute)}), -time.Minute},
		{"missing exp", jwtFor(t, jwt.MapClaims{"sub": "user_123"}), 0},
		{"exp = 0", jwtFor(t, jwt.MapClaims{"exp": 0}), 0},
		{"string exp", jwtFor(t, jwt.MapClaims{"exp": strconv.FormatInt(unix(time.Hour), 10)}), 0},
		{"alg none, exp read without trust", noneTok(fmt.Sprintf(`{"exp":%d}`, unix(time.Hour))), time.Hour},
		{"oversized token", big, 0},
		{"garbage", "not-a-jwt", 0},
		{"three dots of garbage", "a.b.c", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, ok := tokenExpiry(&Token{AccessToken: tc.tok}, now, 0)
			if tc.life == 0 {
				if ok {
					t.Fatalf("expiry %v, want unknown", exp)
				}
				return
			}
			if !ok {
				t.Fatal("expiry unknown")
			}
			if d := exp.Sub(now) - tc.life; d > time.Second || d < -time.Second {
				t.Fatalf("lifetime %v, want %v", exp.Sub(now), tc.life)
			}
		})
	}
}

func TestCacheSkewedServerRefreshesOnTime(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				src := TokenSourceFunc(func(context.Context) (*Token, error) {
					calls.Add(1)
					server := time.Now().Add(skew)
					return &Token{AccessToken: jwtFor(t, jwt.MapClaims{"iat": server.Unix(), "exp": server.Add(time.Hour).Unix(), "n": calls.Load()})}, nil
				})
				c := NewTokenCache(src, nil)
				defer c.Close()
				first, _ := c.Token(context.Background())
				time.Sleep(54 * time.Minute) // fresh either way
				if tok, _ := c.Token(context.Background()); tok != first || calls.Load() != 1 {
					t.Fatalf("refreshed early: calls = %d", calls.Load())
				}
				time.Sleep(2 * time.Minute) // in the stale window: refresh ahead
				_, _ = c.Token(context.Background())
				time.Sleep(time.Second)
				if tok, _ := c.Token(context.Background()); tok == first || calls.Load() != 2 {
					t.Fatalf("not refreshed in the window: calls = %d", calls.Load())
				}
			})
		})
	}
}

// handlerClient sends requests straight to h, in memory, so tests with
// fake time need no sockets.
func handlerClient(h http.Handler) *http.Client {
	return &http.Client{Transport: testrt.Func(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Four caches (four replicas, in one process) share a MemoryStore in front of
// a login server with single-use refresh tokens: one login in all, one
// refresh per expiry in all, no refresh token rejected.
func TestCachesSharingAStoreRefreshOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &singleUseServer{life: time.Hour, live: map[string]bool{}}
		store := &MemoryStore{}
		var caches []*TokenCache
		for range 4 {
			src, _ := NewLoginSource("https://api.audimodal.test/audimodal", Login{Email: "a@b.c", Password: "secure_password"},
				&SourceOptions{HTTPClient: handlerClient(srv)})
			c := NewTokenCache(src, &CacheOptions{Store: store, StoreKey: "audimodal:a@b.c"})
			defer c.Close()
			caches = append(caches, c)
		}
		var wg sync.WaitGroup
		deadline := time.Now().Add(5*time.Hour + 30*time.Minute)
		for i := range 40 {
			c := caches[i%4]
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if _, err := c.Token(context.Background()); err != nil {
						t.Errorf("Token: %v", err)
						return
					}
					time.Sleep(11 * time.Second)
				}
			})
		}
		wg.Wait()
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if srv.logins != 1 || srv.rejected != 0 || srv.refreshes < 5 || srv.refreshes > 6 {
			t.Fatalf("logins = %d, refreshes = %d, rejected = %d; want 1, 5 or 6 (one per expiry), 0", srv.logins, srv.refreshes, srv.rejected)
		}
	})
}

func TestCacheCancelledCallerStartsNoRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		c := NewTokenCache(src, nil)
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait()
		if src.count() != 0 {
			t.Fatalf("a cancelled caller started %d refreshes", src.count())
		}
	})
}

// A caller that saw the token stale, and reaches refreshAhead only after
// another caller's refresh has replaced it, must not renew the fresh
// successor: that was an extra refresh per expiry, and with a shared store
// it spent the fleet's live single-use refresh token (the cause of a flaky
// TestCachesSharingAStoreRefreshOnce: 7 refreshes where 5 or 6 were due).
func TestCacheRefreshAheadOfAReplacedEntryIsANoOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		c := NewTokenCache(src, nil)
		defer c.Close()
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		seen := c.cur.Load()
		time.Sleep(56 * time.Minute) // stale: the next Token refreshes ahead
		_, _ = c.Token(context.Background())
		synctest.Wait()
		if src.count() != 2 || c.cur.Load() == seen {
			t.Fatalf("refresh ahead: calls = %d, replaced = %v", src.count(), c.cur.Load() != seen)
		}
		// The late caller, still holding the entry it saw stale:
		c.refreshAhead(context.Background(), seen, time.Now())
		synctest.Wait()
		if src.count() != 2 {
			t.Fatalf("a late refresh-ahead renewed the fresh token: calls = %d, want 2", src.count())
		}
	})
}

// levelCounter counts slog records by level.
type levelCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
	msgs   []string
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[slog.Level]int{}
	}
	h.counts[r.Level]++
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// FromOAuth2 over a source that caches on its own (as clientcredentials
// does, with oauth2.ReuseTokenSource) hands back the same token at every
// refresh-ahead until near its expiry: a normal answer, logged at debug and
// not reported to OnRefreshError, not a WARN at every poll.
func TestFromOAuth2SameTokenIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gen atomic.Int32
		reuse := oauth2.ReuseTokenSource(nil, oauth2TokenSourceFunc(func() (*oauth2.Token, error) {
			n := gen.Add(1)
			return &oauth2.Token{AccessToken: fmt.Sprintf("oauth-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
		}))
		logs := &levelCounter{}
		var reported atomic.Int32
		c := NewTokenCache(FromOAuth2(reuse), &CacheOptions{
			Logger:         slog.New(logs),
			OnRefreshError: func(error, time.Time) { reported.Add(1) },
		})
		defer c.Close()
		for range 70 { // a call a minute for 70 minutes
			if _, err := c.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Minute)
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if logs.counts[slog.LevelWarn] != 0 || reported.Load() != 0 {
			t.Fatalf("warnings = %d, OnRefreshError calls = %d, want 0: %q", logs.counts[slog.LevelWarn], reported.Load(), logs.msgs)
		}
		if gen.Load() != 2 {
			t.Fatalf("the oauth2 source minted %d tokens in 70 min of 1 h tokens, want 2", gen.Load())
		}
	})
}
