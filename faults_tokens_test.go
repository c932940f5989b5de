package apiauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

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

		// Row 9: a token answer must be 2xx. The token sources follow no
		// redirect, so a 3xx with a token in its body reaches them.
		{
			name: "token endpoint answers 302 (no Location) with an access_token body",
			want: "ErrTokenRefresh wrapping *apiauth.Error{302}; the token is not adopted, the API is not called", match: []fltMatch{refresh, fltStatus(302)}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				mux := http.NewServeMux()
				mux.Handle("POST /get-access-token", fltJSON(302, `{"access_token":"`+fltOpaque+`"}`))
				mux.Handle("/", fltJSON(200, `[]`))
				srv := fltServe(t, mux)
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "token endpoint answers 307 to the same origin, with an access_token body",
			want: "ErrTokenRefresh wrapping *apiauth.Error{307}: not followed (the request carries a secret), not adopted", match: []fltMatch{refresh, fltStatus(307)}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /get-access-token", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/v2/get-access-token")
					fltJSON(307, `{"access_token":"`+fltOpaque+`"}`)(w, r)
				})
				mux.Handle("POST /v2/get-access-token", fltJSON(200, `{"access_token":"`+fltOpaque+`"}`))
				mux.Handle("/", fltJSON(200, `[]`))
				srv := fltServe(t, mux)
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "AudiModal login answers 303 with a token body",
			want: "ErrTokenRefresh wrapping *apiauth.Error{303}; the API is not called", match: []fltMatch{refresh, fltStatus(303)}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				mux := http.NewServeMux()
				mux.Handle("POST /v1/auth/login", fltJSON(303, `{"access_token":"`+fltOpaque+`","refresh_token":"r1","expires_in":3600}`))
				mux.Handle("/", fltJSON(200, `[]`))
				srv := fltServe(t, mux)
				*s = srv
				c := fltClient(t, srv.URL, fltLoginCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "v1/files", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "AudiModal refresh (after a 401) answers 302 with a new token in its body",
			want: "ErrUnauthorized: the 401 answer; the refresh fails with *apiauth.Error{302}, its token is never sent", match: []fltMatch{fltIs(apiauth.ErrUnauthorized, "ErrUnauthorized"), fltStatus(401)}, api: 1, token: 2,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				const second = "second-0123456789abcdef"
				mux := http.NewServeMux()
				mux.Handle("POST /v1/auth/login", fltJSON(200, `{"access_token":"`+fltOpaque+`","refresh_token":"r1","expires_in":3600}`))
				mux.Handle("POST /v1/auth/refresh", fltJSON(302, `{"access_token":"`+second+`","refresh_token":"r2","expires_in":3600}`))
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") == "Bearer "+second {
						fltJSON(200, `[]`)(w, r)
						return
					}
					fltJSON(401, `{"detail":"Invalid authentication credentials"}`)(w, r)
				})
				srv := fltServe(t, mux)
				*s = srv
				var cause atomic.Pointer[error]
				cache := fltLoginCache(t, srv.URL, apiauth.CacheOptions{OnRefreshError: func(err error, _ time.Time) { cause.Store(&err) }})
				c := fltClient(t, srv.URL, cache, apiauth.ClientOptions{})
				_, err := c.Get(ctx, "v1/files", nil)
				var apiErr *apiauth.Error
				if p := cause.Load(); p == nil || !errors.As(*p, &apiErr) || apiErr.StatusCode != 302 {
					t.Errorf("refresh error %v, want *apiauth.Error{302}", cause.Load())
				}
				return fltOutcome{err: err}
			},
		},

		// Row 11: a token expired on arrival is a failed refresh, backed
		// off, not a fetch per request. (A JWT with an iat is corrected for
		// skew and is not expired on arrival: see the row "token endpoint
		// answers 200 with an already expired JWT".)
		{
			name: "token endpoint answers 200 with JWTs expired on arrival (no iat), 5 calls",
			want: "ErrTokenRefresh wrapping ErrTokenExpiredOnArrival for each call; one token request (backoff), the API is not called", match: []fltMatch{refresh, fltIs(apiauth.ErrTokenExpiredOnArrival, "ErrTokenExpiredOnArrival")}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /get-access-token", func(w http.ResponseWriter, r *http.Request) {
					jwt := fltUnsignedJWT(t, map[string]any{"sub": apiauthtest.ArtosUserID, "jti": time.Now().Format(time.RFC3339Nano), "exp": time.Now().Add(-time.Minute).Unix()})
					fltJSON(200, `{"access_token":"`+jwt+`"}`)(w, r)
				})
				mux.Handle("/", fltJSON(200, `[]`))
				srv := fltServe(t, mux)
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				var first error
				for i := range 5 {
					_, err := c.Get(ctx, "api/v1/documents/", nil)
					if !errors.Is(err, apiauth.ErrTokenExpiredOnArrival) {
						t.Errorf("call %d: %v, want ErrTokenExpiredOnArrival", i, err)
					}
					if first == nil {
						first = err
					}
				}
				return fltOutcome{err: first}
			},
		},
		{
			name: "token endpoint answers 200 with JWTs the API finds expired (skew-corrected here), 20 calls",
			want: "ErrUnauthorized (the 401) for the first two calls (the renewed token is rejected on the retry, then on the next call), then ErrTokenRefresh wrapping ErrTokenRejected during the backoff: 2 token requests, not one per call", match: []fltMatch{fltIs(apiauth.ErrUnauthorized, "ErrUnauthorized")}, api: 3, token: 2,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				var fk *apiauthtest.Server
				fk, srv := fltFake(t, apiauthtest.Config{}, map[string]http.HandlerFunc{
					"POST /artos/get-access-token": func(w http.ResponseWriter, _ *http.Request) {
						fltJSON(200, `{"access_token":"`+fk.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute)+`"}`)(w, nil)
					},
				})
				*s = srv
				cache := fltArtosCache(t, srv.URL+"/artos", apiauth.CacheOptions{MinBackoff: 10 * time.Second, MaxBackoff: 10 * time.Second})
				c := fltClient(t, srv.URL+"/artos", cache, apiauth.ClientOptions{})
				var first error
				for i := range 20 {
					_, err := c.Get(ctx, "api/v1/documents/", nil)
					switch {
					case i == 0:
						first = err
					case i == 1:
						if !errors.Is(err, apiauth.ErrUnauthorized) {
							t.Errorf("call %d: %v, want ErrUnauthorized", i, err)
						}
					case !errors.Is(err, apiauth.ErrTokenRejected) || !errors.Is(err, apiauth.ErrTokenRefresh):
						t.Errorf("call %d: %v, want ErrTokenRefresh wrapping ErrTokenRejected", i, err)
					}
				}
				return fltOutcome{err: first}
			},
		},

		// Row 8: shutdown in bounded time over an oauth2 source (no
		// context) whose Token blocks.
		{
			name: "TokenCache.Close over FromOAuth2 whose Token() blocks forever",
			want: "Close returns at once (nil); the waiting call gets ErrClosed; the blocked call is released by its owner, no goroutine left", match: []fltMatch{fltIs(apiauth.ErrClosed, "ErrClosed")}, api: 0, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(200, `[]`))
				*s = srv
				entered, release := make(chan struct{}, 1), make(chan struct{})
				var once sync.Once
				free := func() { once.Do(func() { close(release) }) }
				defer free() // the user's blocked goroutine is the user's to release
				ts := fltOAuth2Func(func() (*oauth2.Token, error) {
					select {
					case entered <- struct{}{}:
					default:
					}
					<-release
					return &oauth2.Token{AccessToken: fltOpaque}, nil
				})
				cache := apiauth.NewTokenCache(apiauth.FromOAuth2(ts), nil)
				c := fltClient(t, srv.URL, cache, apiauth.ClientOptions{})
				got := make(chan error, 1)
				go func() {
					_, err := c.Get(ctx, "v1/files", nil)
					got <- err
				}()
				select {
				case <-entered:
				case <-ctx.Done():
					t.Fatal("the oauth2 source was never called")
				}
				closed := make(chan error, 1)
				start := time.Now()
				go func() { closed <- cache.Close() }()
				select {
				case err := <-closed:
					if err != nil {
						t.Errorf("Close: %v, want nil", err)
					}
				case <-time.After(2 * time.Second):
					t.Errorf("Close still blocked after 2 s")
					free()
					<-closed
				}
				d := time.Since(start)
				err := <-got
				free()
				return fltOutcome{err: err, note: fmt.Sprintf(": Close took %s", d.Round(time.Millisecond))}
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

// fltUnsignedJWT returns a JWT with claims and an empty signature: the
// cache reads the claims of a token without verifying it.
func fltUnsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

// fltOAuth2Func adapts a function to oauth2.TokenSource.
type fltOAuth2Func func() (*oauth2.Token, error)

func (f fltOAuth2Func) Token() (*oauth2.Token, error) { return f() }
