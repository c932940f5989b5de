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
