package apiauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiauth/apiauth/transport"
)

func TestClientJoinsBasePathAndSendsUserAgent(t *testing.T) {
	var got struct {
		path, query, ua, auth string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.query, got.ua, got.auth = r.URL.Path, r.URL.RawQuery, r.UserAgent(), r.Header.Get("Authorization")
		w.Header().Set("X-Request-Id", "req_42")
		fmt.Fprint(w, `{"status":"healthy"}`)
	}))
	defer srv.Close()
	key, _ := ParseAPIKey(liveKey)
	c, err := NewClient(srv.URL+"/mounted/v1/", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Status string }
	resp, err := c.Get(context.Background(), "/health?verbose=1", &out)
	if err != nil {
		t.Fatal(err)
	}
	if got.path != "/mounted/v1/health" || got.query != "verbose=1" || got.ua != DefaultUserAgent || got.auth != "Bearer "+liveKey {
		t.Errorf("server saw %+v", got)
	}
	if out.Status != "healthy" || resp.RequestID != "req_42" || resp.StatusCode != 200 {
		t.Errorf("out = %+v, request id %q", out, resp.RequestID)
	}
}

func TestClientPublicEndpointWithoutCredential(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("credential sent to a public endpoint")
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if _, err := c.Get(context.Background(), "api/v1/search/status", &out); err != nil || out["status"] != "ok" {
		t.Fatalf("%v, %v", out, err)
	}
}

// tokenServer issues numbered tokens and counts its calls.
type tokenServer struct{ fetches atomic.Int32 }

func (s *tokenServer) source() TokenSource {
	return TokenSourceFunc(func(context.Context) (*Token, error) {
		n := s.fetches.Add(1)
		return &Token{AccessToken: fmt.Sprintf("tok-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
	})
}

func TestClient401RefreshAndRetry(t *testing.T) {
	for _, tc := range []struct {
		name         string
		goodToken    string // the token the API accepts; "" = none
		wantCalls    int32
		wantFetches  int32
		wantErrIsUna bool
	}{
		{"401 then 200", "tok-2", 2, 2, false},
		{"always 401", "", 2, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.goodToken == "" || r.Header.Get("Authorization") != "Bearer "+tc.goodToken {
					w.WriteHeader(http.StatusUnauthorized)
					fmt.Fprint(w, `{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`)
					return
				}
				fmt.Fprint(w, `{}`)
			}))
			defer srv.Close()
			ts := &tokenServer{}
			cache := NewTokenCache(ts.source(), nil)
			defer cache.Close()
			c, _ := NewClient(srv.URL, cache, nil)
			_, err := c.Get(context.Background(), "v1/files", nil)
			if calls.Load() != tc.wantCalls || ts.fetches.Load() != tc.wantFetches {
				t.Errorf("API calls = %d, token fetches = %d; want %d and %d", calls.Load(), ts.fetches.Load(), tc.wantCalls, tc.wantFetches)
			}
			if got := errors.Is(err, ErrUnauthorized) && errors.Is(err, ErrTokenExpired); got != tc.wantErrIsUna {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestClient50Concurrent401sOneRefresh(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"detail":"Invalid authentication credentials"}`)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	ts := &tokenServer{}
	cache := NewTokenCache(ts.source(), nil)
	defer cache.Close()
	if _, err := cache.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := NewClient(srv.URL, cache, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := c.Get(context.Background(), "api/v1/documents/", nil); err != nil {
				t.Errorf("request: %v", err)
			}
		})
	}
	wg.Wait()
	if ts.fetches.Load() != 2 {
		t.Fatalf("token fetches = %d, want 2 (the first and one refresh)", ts.fetches.Load())
	}
}

func TestClientErrorsAreTyped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"Insufficient permissions for this operation","required_role":"admin"}}`)
		case "/limited":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":3600}}`)
		}
	}))
	defer srv.Close()
	key, _ := ParseAPIKey(liveKey)
	c, _ := NewClient(srv.URL, key, nil)

	_, err := c.Get(context.Background(), "forbidden?secret=CANARY", nil)
	var apiErr *Error
	if !errors.Is(err, ErrInsufficientPermissions) || !errors.As(err, &apiErr) || apiErr.RequiredRole != "admin" {
		t.Errorf("403: %v", err)
	}
	start := time.Now()
	_, err = c.Get(context.Background(), "limited", nil)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) || rl.RetryAfter != time.Hour || time.Since(start) > 10*time.Second {
		t.Errorf("429 past MaxWait: %v after %v", err, time.Since(start))
	}
	for _, e := range []error{err} {
		if strings.Contains(fmt.Sprintf("%v %+v", e, e), "CANARY") {
			t.Errorf("error shows the query: %v", e)
		}
	}
}

func TestClientTransportErrorHidesQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens any more
	c, _ := NewClient(addr, nil, &ClientOptions{Retry: transport.RetryOptions{MaxAttempts: 1}})
	_, err := c.Get(context.Background(), "x?token=CANARY", nil)
	if err == nil || strings.Contains(err.Error(), "CANARY") || !strings.HasPrefix(err.Error(), "apiauth: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestClientHTTPClientRedirectsBare(t *testing.T) {
	var foreignAuth atomic.Value
	foreignAuth.Store("")
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignAuth.Store(r.Header.Get("Authorization") + r.Header.Get("X-Api-Key") + r.Header.Get("X-Tenant-Id"))
		fmt.Fprint(w, "download")
	}))
	defer foreign.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreign.URL+"/file", http.StatusFound)
	}))
	defer origin.Close()
	// Two loopback servers on different ports are different origins.
	key, _ := ParseAPIKey(liveKey)
	c, _ := NewClient(origin.URL, key, &ClientOptions{TenantHeader: "X-Tenant-ID", Tenant: "tenant_123"})
	req, _ := http.NewRequest(http.MethodGet, origin.URL+"/v1/files/1", nil)
	req.Header.Set("X-Api-Key", "hand-set")
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || foreignAuth.Load() != "" {
		t.Fatalf("status %d, foreign origin saw credentials %q", resp.StatusCode, foreignAuth.Load())
	}
}

func TestNewClientValidates(t *testing.T) {
	for _, base := range []string{"", "/relative", "ftp://x", "://bad"} {
		if _, err := NewClient(base, nil, nil); err == nil {
			t.Errorf("NewClient(%q) accepted", base)
		}
	}
	key, _ := ParseAPIKey(liveKey)
	if _, err := NewClient("http://api.audimodal.test", key, nil); !errors.Is(err, ErrInsecureTransport) {
		t.Fatalf("credential over plain http: %v", err)
	}
}

// NewHTTPClient carries the same stack as a Client: the credential goes to
// the base URL's origin only, statuses stay responses, and a bad base URL
// is refused as NewClient refuses it.
func TestNewHTTPClient(t *testing.T) {
	var seen atomic.Value
	seen.Store("")
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
	}))
	defer foreign.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+liveKey {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"INVALID_API_KEY","message":"no"}}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	key, _ := ParseAPIKey(liveKey)
	hc, err := NewHTTPClient(srv.URL, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status %d at the origin, want 204 (credential attached)", resp.StatusCode)
	}
	resp, err = hc.Get(foreign.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.Load() != "" {
		t.Errorf("another origin received Authorization %q", seen.Load())
	}

	wrong, _ := ParseAPIKey("sk_live_wrongwrongwrong")
	hc2, _ := NewHTTPClient(srv.URL, wrong, nil)
	resp, err = hc2.Get(srv.URL + "/v1/health")
	if err != nil {
		t.Fatalf("a 401 is a response, not a transport error: %v", err)
	}
	if err := CheckResponse(resp); !errors.Is(err, ErrInvalidAPIKey) {
		t.Errorf("CheckResponse = %v, want ErrInvalidAPIKey", err)
	}
	resp.Body.Close()

	if _, err := NewHTTPClient("not a url", key, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad base URL: %v", err)
	}
}
