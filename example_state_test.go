package apiauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/apiauth/apiauth"
)

// A token cache's snapshot, for a health endpoint: what it would do for the
// next call, and the last failure's message. It holds no token.
func ExampleTokenCache_State() {
	fail := false
	src := apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
		if fail {
			return nil, errors.New("token endpoint answered 503")
		}
		return &apiauth.Token{AccessToken: "secret-token", Expiry: time.Now().Add(time.Hour)}, nil
	})
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()

	fmt.Println(cache.State().Status) // nothing fetched yet
	if _, err := cache.Token(context.Background()); err != nil {
		panic(err)
	}
	s := cache.State()
	fmt.Println(s.Status, time.Until(s.Expiry).Round(time.Hour))

	fail = true
	cache.Invalidate(mustToken(cache)) // as after a 401: a refresh starts, and fails
	for cache.State().Refreshing {
		time.Sleep(time.Millisecond)
	}
	s = cache.State()
	fmt.Println(s.Status, s.Failures, s.LastError)

	b, _ := json.Marshal(apiauth.CacheState{Status: s.Status, Failures: s.Failures, LastError: s.LastError})
	fmt.Println(string(b))
	// Output:
	// waiting
	// fresh 1h0m0s
	// failing 1 token endpoint answered 503
	// {"status":"failing","failures":1,"last_error":"token endpoint answered 503"}
}

func mustToken(c *apiauth.TokenCache) *apiauth.Token {
	tok, err := c.Token(context.Background())
	if err != nil {
		panic(err)
	}
	return tok
}

// The client's rate-limit snapshot: per host and credential (named by a
// hash of the key, never the key), what the server last said.
func ExampleClient_RateLimitState() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "997")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Minute).Unix()))
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	key, _ := apiauth.ParseAPIKey("sk_live_1234567890abcdef0123")
	client, err := apiauth.NewClient(srv.URL, key, nil)
	if err != nil {
		panic(err)
	}
	if _, err := client.Get(context.Background(), "v1/health", nil); err != nil {
		panic(err)
	}
	for _, s := range client.RateLimitState() {
		fmt.Println(s.Identity, s.Limit, s.Remaining, s.InFlight, time.Until(s.Reset).Round(time.Minute))
	}
	// Output:
	// key:b4ff0c7426b50fee 1000 997 0 1m0s
}
