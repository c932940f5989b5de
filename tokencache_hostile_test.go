package apiauth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Issue 13, hostile token endpoints: what the cache does with tokens it
// must not adopt, whatever the source.

// TestCacheTokenNotAHeaderValue: a source handing out an access token or a
// token type with CR, LF or NUL gets a failed refresh, typed and backed off,
// not an entry that breaks every request before it is sent (issue 13 row 6).
func TestCacheTokenNotAHeaderValue(t *testing.T) {
	const secret = "tok-0123456789abcdef"
	for _, bad := range []Token{
		{AccessToken: secret + "\n"},
		{AccessToken: secret + "\r\nX-Injected: 1"},
		{AccessToken: "tok\x00" + secret},
		{AccessToken: secret, TokenType: "Bearer\n"},
		{AccessToken: secret, TokenType: "Bea\x00rer"},
	} {
		synctest.Test(t, func(t *testing.T) {
			var fetches atomic.Int32
			src := TokenSourceFunc(func(context.Context) (*Token, error) {
				fetches.Add(1)
				tok := bad
				tok.Expiry = time.Now().Add(time.Hour)
				return &tok, nil
			})
			c := NewTokenCache(src, &CacheOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
			defer c.Close()
			for i := range 20 {
				tok, err := c.Token(context.Background())
				var re *RefreshError
				var ce *CredentialError
				if tok != nil || !errors.As(err, &re) || !errors.Is(err, ErrTokenRefresh) || !errors.As(err, &ce) {
					t.Fatalf("call %d: %v, %v: want a *RefreshError wrapping a *CredentialError", i, tok, err)
				}
				if strings.Contains(err.Error(), "0123456789abcdef") {
					t.Fatalf("error shows the token: %v", err)
				}
				time.Sleep(500 * time.Millisecond)
			}
			// 10 s of calls with backoff 1 s doubling to 4 s (jittered down
			// to half): at least 3 fetches, and far fewer than 20.
			if n := fetches.Load(); n < 3 || n > 8 {
				t.Errorf("%d fetches for 20 calls over 10 s, want 3 to 8 (backoff)", n)
			}
		})
	}
}

// TestCacheTokenNotAHeaderValueKeepsValidToken: a refresh-ahead answered
// with an unusable token leaves the valid token in service.
func TestCacheTokenNotAHeaderValueKeepsValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fetches atomic.Int32
		src := TokenSourceFunc(func(context.Context) (*Token, error) {
			if fetches.Add(1) == 1 {
				return &Token{AccessToken: "good", Expiry: time.Now().Add(time.Hour)}, nil
			}
			return &Token{AccessToken: "bad\n", Expiry: time.Now().Add(time.Hour)}, nil
		})
		c := NewTokenCache(src, nil)
		defer c.Close()
		for i := range 60 { // into the refresh-ahead window (55 min) and on to 59 min
			tok, err := c.Token(context.Background())
			if err != nil || tok.AccessToken != "good" {
				t.Fatalf("at %d min: got %v, %v; want the valid token", i, tok, err)
			}
			time.Sleep(time.Minute)
		}
		if n := fetches.Load(); n < 2 {
			t.Errorf("%d fetches, want the refresh-ahead tried", n)
		}
	})
}

// TestCacheExpiredOnArrivalBacksOff: a source handing out tokens that have
// expired by the time they arrive (a JWT whose exp is past and that has no
// iat to correct skew with, an exp not after its iat, or an Expiry in the
// past) costs a handful of fetches over 20 requests, with the cache's
// backoff between them, not one fetch per request (issue 13 row 11).
func TestCacheExpiredOnArrivalBacksOff(t *testing.T) {
	for name, mint := range map[string]func(now time.Time) *Token{
		"JWT exp past, no iat": func(now time.Time) *Token {
			return &Token{AccessToken: jwtFor(t, map[string]any{"jti": time.Now().Format(time.RFC3339Nano), "sub": "u", "exp": now.Add(-time.Minute).Unix()})}
		},
		"JWT exp before iat": func(now time.Time) *Token {
			return &Token{AccessToken: jwtFor(t, map[string]any{"jti": time.Now().Format(time.RFC3339Nano), "sub": "u", "iat": now.Unix(), "exp": now.Add(-time.Minute).Unix()})}
		},
		"JWT exp now, no iat": func(now time.Time) *Token {
			return &Token{AccessToken: jwtFor(t, map[string]any{"jti": time.Now().Format(time.RFC3339Nano), "sub": "u", "exp": now.Unix()})}
		},
		"Expiry past": func(now time.Time) *Token {
			return &Token{AccessToken: "opaque-" + now.Format(time.RFC3339Nano), Expiry: now.Add(-time.Second)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var fetches atomic.Int32
				var failures []time.Time
				src := TokenSourceFunc(func(context.Context) (*Token, error) {
					fetches.Add(1)
					return mint(time.Now()), nil
				})
				c := NewTokenCache(src, &CacheOptions{
					MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
					OnRefreshError: func(err error, next time.Time) {
						if !errors.Is(err, ErrTokenExpiredOnArrival) {
							t.Errorf("refresh error %v, want ErrTokenExpiredOnArrival", err)
						}
						failures = append(failures, next)
					},
				})
				defer c.Close()
				bad := 0
				for i := range 20 {
					tok, err := c.Token(context.Background())
					if tok != nil || !errors.Is(err, ErrTokenRefresh) || !errors.Is(err, ErrTokenExpiredOnArrival) {
						if bad++; bad == 1 {
							t.Errorf("request %d: %v, %v; want ErrTokenRefresh wrapping ErrTokenExpiredOnArrival", i, tok, err)
						}
					}
					time.Sleep(250 * time.Millisecond)
				}
				// 5 s of requests, backoff 1 s doubling (jittered down to
				// half): 2 to 5 fetches, each after the previous backoff.
				if n := fetches.Load(); n < 2 || n > 5 {
					t.Errorf("%d fetches for 20 requests over 5 s, want 2 to 5", n)
				}
				for i := 1; i < len(failures); i++ {
					if failures[i].Sub(failures[i-1]) < 500*time.Millisecond {
						t.Errorf("retry %d scheduled %s after the previous one: no backoff", i, failures[i].Sub(failures[i-1]))
					}
				}
			})
		})
	}
}

// TestCacheExpiredOnArrivalKeepsValidToken: a refresh-ahead answered with
// an expired token leaves the valid token in service until its expiry.
func TestCacheExpiredOnArrivalKeepsValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fetches atomic.Int32
		src := TokenSourceFunc(func(context.Context) (*Token, error) {
			if fetches.Add(1) == 1 {
				return &Token{AccessToken: "good", Expiry: time.Now().Add(time.Hour)}, nil
			}
			return &Token{AccessToken: "expired", Expiry: time.Now().Add(-time.Minute)}, nil
		})
		c := NewTokenCache(src, nil)
		defer c.Close()
		for i := range 60 {
			tok, err := c.Token(context.Background())
			if err != nil || tok.AccessToken != "good" {
				t.Fatalf("at %d min: got %v, %v; want the valid token", i, tok, err)
			}
			time.Sleep(time.Minute)
		}
	})
}

// TestCacheInvalidateValidReplacementRenewsAtOnce: the rejection backoff
// is for JWTs already past their exp; a replacement token that is valid by
// its claims and invalidated again (revoked) is renewed at once.
func TestCacheInvalidateValidReplacementRenewsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		c := NewTokenCache(src, nil)
		defer c.Close()
		for i := range 3 {
			tok, err := c.Token(context.Background())
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if !c.Invalidate(tok) {
				t.Fatalf("round %d: Invalidate refused the current token", i)
			}
			synctest.Wait()
		}
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := src.count(); n != 4 {
			t.Errorf("%d fetches, want 4 (one per invalidation, no backoff)", n)
		}
	})
}
