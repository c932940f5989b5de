package apiauth_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

// fltTokenCases are the fault-matrix rows for hostile token endpoints and shutdown: issue 13 rows 6, 8, 9, 11.
func fltTokenCases() []fltCase {
	refresh := fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh")
	badCred := fltIs(apiauth.ErrInvalidCredential, "ErrInvalidCredential")
	return []fltCase{
		// Row 6: a token that cannot go into a header is a failed refresh,
		// backed off and retried; never an entry that fails every request.
		{
			name: "token endpoint answers 200 with an access_token ending in a newline, 3 calls",
			want: "ErrTokenRefresh (*CredentialError, no token shown) for each call; refetched after the backoff, not cached", match: []fltMatch{refresh, badCred, fltAs[*apiauth.RefreshError]("*apiauth.RefreshError")}, api: 0, token: 2,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(200, `{"access_token":"`+fltOpaque+`\n"}`))
				*s = srv
				cache := fltArtosCache(t, srv.URL, apiauth.CacheOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
				c := fltClient(t, srv.URL, cache, apiauth.ClientOptions{})
				var first error
				for i := range 3 {
					if i == 2 {
						time.Sleep(100 * time.Millisecond) // past the backoff
					}
					_, err := c.Get(ctx, "api/v1/documents/", nil)
					if !errors.Is(err, apiauth.ErrTokenRefresh) {
						t.Errorf("call %d: %v, want ErrTokenRefresh", i, err)
					}
					if first == nil {
						first = err
					}
				}
				return fltOutcome{err: first}
			},
		},
		{
			name: "token endpoint answers 200 with a token_type holding a NUL",
			want: "ErrTokenRefresh (*CredentialError); the API is not called", match: []fltMatch{refresh, badCred}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(200, `{"access_token":"`+fltOpaque+`","token_type":"Bearer\u0000"}`))
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "AudiModal login answers 200 with CR LF inside the access_token",
			want: "ErrTokenRefresh (*CredentialError); nothing smuggled, the API is not called", match: []fltMatch{refresh, badCred}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(200, `{"access_token":"`+fltOpaque+`\r\nX-Injected: 1","refresh_token":"r1","expires_in":3600}`))
				*s = srv
				c := fltClient(t, srv.URL, fltLoginCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "v1/files", nil)
				return fltOutcome{err: err}
			},
		},
	}
}

// fltLoginCache returns a token cache over an AudiModal login source at
// base (base+"/v1/auth/login" and base+"/v1/auth/refresh").
func fltLoginCache(t *testing.T, base string, o apiauth.CacheOptions) *apiauth.TokenCache {
	t.Helper()
	src, err := apiauth.NewLoginSource(base, apiauth.Login{Email: "ci@example.com", Password: apiauthtest.AudiModalPassword},
		&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: fltTransport(t)}})
	if err != nil {
		t.Fatal(err)
	}
	c := apiauth.NewTokenCache(src, &o)
	t.Cleanup(func() { c.Close() })
	return c
}
