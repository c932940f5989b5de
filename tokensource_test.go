package apiauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

func TestTokenEndpointArtos(t *testing.T) {
	var gotBody map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/get-access-token" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line", http.StatusBadRequest)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&gotBody)
		if gotBody["user_id"] != "user_123" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"detail":"Invalid authentication credentials"}`))
			return
		}
		now := time.Now()
		fmt.Fprintf(w, `{"access_token":%q}`, jwtFor(t, jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(30 * time.Minute).Unix()}))
	}))
	defer srv.Close()

	src, err := NewTokenEndpoint(srv.URL+"/prefix/get-access-token", "user_123", nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if life := time.Until(tok.Expiry); life < 29*time.Minute || life > 31*time.Minute {
		t.Fatalf("expiry in %v, want about 30 min from the JWT", life)
	}
	if tok.Type() != "Bearer" {
		t.Errorf("type = %q", tok.Type())
	}

	bad, _ := NewTokenEndpoint(srv.URL+"/prefix/get-access-token", "nobody", nil)
	_, err = bad.Token(context.Background())
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("unknown user: err = %v, want *Error with 401", err)
	}
}

func TestTokenEndpointRefusesPlainHTTPAndRedirects(t *testing.T) {
	if _, err := NewTokenEndpoint("http://api.artosai.com/get-access-token", "u", nil); !errors.Is(err, ErrInsecureTransport) {
		t.Errorf("plain http to a remote host: err = %v", err)
	}
	if _, err := NewTokenEndpoint("http://api.artosai.com/get-access-token", "u", &SourceOptions{AllowInsecure: true}); err != nil {
		t.Errorf("opted in: err = %v", err)
	}
	if _, err := NewTokenEndpoint("/relative", "u", nil); err == nil {
		t.Error("relative URL accepted")
	}
	if _, err := NewTokenEndpoint("https://x/get-access-token", "", nil); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("empty user: err = %v", err)
	}

	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		fmt.Fprint(w, `{"access_token":"stolen"}`)
	}))
	defer foreign.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreign.URL+"/get-access-token", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	src, _ := NewTokenEndpoint(redirector.URL+"/get-access-token", "user_123", nil)
	if _, err := src.Token(context.Background()); err == nil || foreignHits.Load() != 0 {
		t.Fatalf("redirected token request: err = %v, foreign hits = %d", err, foreignHits.Load())
	}
}

func TestTokenEndpointBadAnswers(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"no token", `{"token":"x"}`},
		{"malformed JSON", `{"access_token":`},
		{"oversized", `{"access_token":"` + strings.Repeat("a", DefaultMaxTokenResponse) + `"}`},
		{"wrong type", `{"access_token":123456}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tc.body) }))
			defer srv.Close()
			src, _ := NewTokenEndpoint(srv.URL+"/get-access-token", "u", nil)
			_, err := src.Token(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), "apiauth: ") || strings.Contains(err.Error(), "aaaa") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// singleUseServer is a login + refresh endpoint whose refresh tokens work
// once. It counts logins, refreshes and rejected refresh tokens.
type singleUseServer struct {
	mu                          sync.Mutex
	life                        time.Duration
	seq                         int
	live                        map[string]bool
	logins, refreshes, rejected int
}

func (s *singleUseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/audimodal/v1/auth/login":
		if body["password"] != "secure_password" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"UNAUTHORIZED","message":"bad login"}}`))
			return
		}
		s.logins++
	case "/audimodal/v1/auth/refresh":
		if !s.live[body["refresh_token"]] {
			s.rejected++
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"TOKEN_EXPIRED","message":"refresh token already used"}}`))
			return
		}
		delete(s.live, body["refresh_token"])
		s.refreshes++
	default:
		http.NotFound(w, r)
		return
	}
	s.seq++
	rt := fmt.Sprintf("refresh-%d", s.seq)
	s.live[rt] = true
	fmt.Fprintf(w, `{"access_token":"access-%d","refresh_token":%q,"token_type":"Bearer","expires_in":%d,"user":{"id":"user_123","role":"admin","tenant_id":"tenant_123"}}`,
		s.seq, rt, int(s.life.Seconds()))
}

func TestLoginSourceSingleUseRefreshTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &singleUseServer{life: time.Hour, live: map[string]bool{}}
		src, err := NewLoginSource("https://api.audimodal.test/audimodal", Login{Email: "user@company.com", Password: "secure_password", TenantID: "tenant_123"},
			&SourceOptions{HTTPClient: handlerClient(srv)})
		if err != nil {
			t.Fatal(err)
		}
		var rotated atomic.Int32
		c := NewTokenCache(src, &CacheOptions{OnToken: func(*Token) { rotated.Add(1) }})
		defer c.Close()
		var wg sync.WaitGroup
		deadline := time.Now().Add(10*time.Hour + 30*time.Minute) // 10 expiries
		for range 100 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if _, err := c.Token(context.Background()); err != nil {
						t.Errorf("Token: %v", err)
						return
					}
					time.Sleep(7 * time.Second)
				}
			})
		}
		wg.Wait()
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if srv.logins != 1 || srv.rejected != 0 || srv.refreshes < 10 {
			t.Fatalf("logins = %d, refreshes = %d, rejected = %d; want 1 login, >= 10 refreshes, 0 rejected", srv.logins, srv.refreshes, srv.rejected)
		}
		tok, _ := c.Token(context.Background())
		if user, _ := tok.Extra["user"].(map[string]any); user["tenant_id"] != "tenant_123" {
			t.Errorf("user not kept in Extra: %v", tok.Extra)
		}
	})
}

func TestLoginSourceFallsBackToLogin(t *testing.T) {
	srv := &singleUseServer{life: time.Hour, live: map[string]bool{}}
	src, _ := NewLoginSource("https://api.audimodal.test/audimodal", Login{Email: "a@b.c", Password: "secure_password"}, &SourceOptions{HTTPClient: handlerClient(srv)})
	first, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := src.RenewToken(context.Background(), first)
	if err != nil || second.RefreshToken == first.RefreshToken {
		t.Fatalf("renew: %v, %v", second, err)
	}
	// Renewing first again presents no spent token: the source remembers.
	again, err := src.RenewToken(context.Background(), first)
	if err != nil || again != second || srv.rejected != 0 {
		t.Fatalf("second renewal of the same token: %v, %v, rejected = %d", again, err, srv.rejected)
	}
	// A refresh token the server no longer knows: fall back to login.
	stale := &Token{AccessToken: "x", RefreshToken: "revoked"}
	tok, err := src.RenewToken(context.Background(), stale)
	if err != nil || srv.logins != 2 || srv.rejected != 1 {
		t.Fatalf("fallback: %v, %v, logins = %d, rejected = %d", tok, err, srv.logins, srv.rejected)
	}
	// A wrong password is a typed error that does not echo it.
	bad, _ := NewLoginSource("https://api.audimodal.test/audimodal", Login{Email: "a@b.c", Password: "CANARYwrong"}, &SourceOptions{HTTPClient: handlerClient(srv)})
	_, err = bad.Token(context.Background())
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("bad login: %v", err)
	}
}

func TestOAuth2Interop(t *testing.T) {
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
	}))
	defer srv.Close()

	// Any oauth2 source feeds our cache...
	static := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "from-oauth2", Expiry: time.Now().Add(time.Hour)})
	c := NewTokenCache(FromOAuth2(static), nil)
	defer c.Close()
	// ...and our cache is an oauth2 source, used by oauth2's own Transport.
	client := &http.Client{Transport: &oauth2.Transport{Source: c.OAuth2(context.Background())}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := seen.Load(); got != "Bearer from-oauth2" {
		t.Fatalf("Authorization = %v", got)
	}
	ot, err := c.OAuth2(context.Background()).Token()
	if err != nil || !ot.Valid() || ot.AccessToken != "from-oauth2" {
		t.Fatalf("oauth2 token: %v, %v", ot, err)
	}
}

// BenchmarkTokenHotPath compares getting a valid cached token from our
// cache with oauth2.ReuseTokenSource over a static source, from many
// goroutines at once.
func BenchmarkTokenHotPath(b *testing.B) {
	// hot is a cache holding a fresh token.
	hot := func(b *testing.B) *TokenCache {
		c := NewTokenCache(TokenSourceFunc(func(context.Context) (*Token, error) {
			return &Token{AccessToken: "hot", Expiry: time.Now().Add(time.Hour)}, nil
		}), nil)
		b.Cleanup(func() { c.Close() })
		return c
	}
	// run calls get once to warm it, then from every goroutine.
	run := func(b *testing.B, get func() error) {
		if err := get(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("apiauth", func(b *testing.B) {
		c, ctx := hot(b), context.Background()
		run(b, func() error { _, err := c.Token(ctx); return err })
	})
	b.Run("oauth2-adapter", func(b *testing.B) {
		ts := hot(b).OAuth2(context.Background())
		run(b, func() error { _, err := ts.Token(); return err })
	})
	b.Run("oauth2-reuse", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "hot", Expiry: time.Now().Add(time.Hour)}))
		run(b, func() error { _, err := ts.Token(); return err })
	})
}

// The oauth2 adapter hands out one *oauth2.Token per cached token, without
// allocating, and a new one once the cache has refreshed.
func TestOAuth2AdapterSharesOneTokenPerRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: time.Hour}
		c := NewTokenCache(src, nil)
		defer c.Close()
		ts := c.OAuth2(context.Background())
		first, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := ts.Token(); again != first {
			t.Fatal("a second call built another *oauth2.Token for the same cached token")
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = ts.Token() }); n != 0 {
			t.Fatalf("Token allocates %v times per call, want 0", n)
		}
		if first.AccessToken == "" || first.TokenType != "Bearer" || first.Expiry.IsZero() {
			t.Fatalf("token = %+v", first)
		}
		time.Sleep(56 * time.Minute) // stale: refreshed ahead
		_, _ = ts.Token()
		synctest.Wait()
		next, err := ts.Token()
		if err != nil || next == first || next.AccessToken == first.AccessToken || src.count() != 2 {
			t.Fatalf("after the refresh: same = %v, calls = %d, err = %v", next == first, src.count(), err)
		}
	})
}
