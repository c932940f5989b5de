package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apiauth/apiauth/internal/errkind"
	tenantctx "github.com/apiauth/apiauth/internal/tenant"
	"github.com/apiauth/apiauth/internal/testrt"
)

// authOK answers 200 with an empty body, recording the request it got.
func authOK(got **http.Request) testrt.Func {
	return func(r *http.Request) (*http.Response, error) {
		if got != nil {
			*got = r
		}
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	}
}

// authTokenCred is a refreshable credential: it fetches tok-1, tok-2, ...
// counting fetches, and drops its token on InvalidateCredential only if the
// handle is still the current token.
type authTokenCred struct {
	mu            sync.Mutex
	cur           string
	fetches       int
	invalidations int
	drops         int
}

func (c *authTokenCred) Apply(_ context.Context, h http.Header) (any, error) {
	c.mu.Lock()
	if c.cur == "" {
		c.fetches++
		c.cur = fmt.Sprintf("tok-%d", c.fetches)
	}
	tok := c.cur
	c.mu.Unlock()
	h.Set("Authorization", "Bearer "+tok)
	return tok, nil
}

func (c *authTokenCred) InvalidateCredential(used any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidations++
	if s, ok := used.(string); ok && s == c.cur {
		c.cur = ""
		c.drops++
		return true
	}
	return false
}

func (c *authTokenCred) counts() (fetches, invalidations, drops int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches, c.invalidations, c.drops
}

// authBody is a request body that records whether it was closed.
type authBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *authBody) Close() error { b.closed.Store(true); return nil }

func authStatic(h http.Header) error {
	h.Set("Authorization", "Bearer static-key")
	return nil
}

func authNewReq(t testing.TB, ctx context.Context, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestAuthAttachesCredentialAndTenant(t *testing.T) {
	var got *http.Request
	a := &Auth{Base: authOK(&got), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: "https://api.audimodal.ai/v1", TenantHeader: "X-Tenant-ID", Tenant: "tenant_default"}}
	tests := []struct {
		name       string
		ctx        context.Context
		wantTenant string
	}{
		{"layer default", context.Background(), "tenant_default"},
		{"context override", tenantctx.With(context.Background(), "tenant_456"), "tenant_456"},
		{"empty override means default", tenantctx.With(tenantctx.With(context.Background(), "x"), ""), "tenant_default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := authNewReq(t, tt.ctx, "GET", "https://api.audimodal.ai/v1/files", nil)
			resp, err := a.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if v := got.Header.Get("Authorization"); v != "Bearer static-key" {
				t.Errorf("Authorization = %q, want the credential's", v)
			}
			if v := got.Header.Get("X-Tenant-ID"); v != tt.wantTenant {
				t.Errorf("X-Tenant-ID = %q, want %q", v, tt.wantTenant)
			}
			if len(req.Header) != 0 {
				t.Errorf("caller's request gained headers: %v", req.Header)
			}
		})
	}
}

// TestAuthArtanisSlugOverride checks that for Artanis the tenant override
// replaces the slug the header-pair credential set.
func TestAuthArtanisSlugOverride(t *testing.T) {
	var got *http.Request
	a := &Auth{Base: authOK(&got), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error {
		h.Set("x-api-key", "artanis-key")
		h.Set("x-org-slug", "home-org")
		return nil
	}), Origin: "https://app.artanis.ai", TenantHeader: "x-org-slug"}}
	for _, tt := range []struct {
		ctx  context.Context
		want string
	}{
		{context.Background(), "home-org"},
		{tenantctx.With(context.Background(), "other-org"), "other-org"},
	} {
		resp, err := a.RoundTrip(authNewReq(t, tt.ctx, "GET", "https://app.artanis.ai/api/prompts?projectSlug=p", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := got.Header.Values("X-Org-Slug"); len(v) != 1 || v[0] != tt.want {
			t.Errorf("x-org-slug = %q, want exactly [%q]", v, tt.want)
		}
		if v := got.Header.Get("X-Api-Key"); v != "artanis-key" {
			t.Errorf("x-api-key = %q, want the credential's", v)
		}
	}
}

func TestAuthInvalidTenant(t *testing.T) {
	for _, tenant := range []string{
		"a\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "tab\there", "del\x7f", "sp ace",
		"caf\u00e9", strings.Repeat("t", authMaxTenantLen+1),
	} {
		t.Run(fmt.Sprintf("%q", tenant), func(t *testing.T) {
			called := false
			a := &Auth{Base: testrt.Func(func(*http.Request) (*http.Response, error) { called = true; return nil, errors.New("unreachable") }), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: "https://api.voltasis.com", TenantHeader: "X-Organization-ID"}}
			body := &authBody{Reader: strings.NewReader("{}")}
			req := authNewReq(t, tenantctx.With(context.Background(), tenant), "POST", "https://api.voltasis.com/v1/x", body)
			resp, err := a.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("RoundTrip succeeded, want an invalid-tenant error")
			}
			if !errors.Is(err, errkind.InvalidCredential) {
				t.Errorf("error %v does not match errkind.InvalidCredential", err)
			}
			if strings.Contains(err.Error(), tenant) {
				t.Errorf("error %q quotes the rejected value", err)
			}
			if called {
				t.Error("the request was sent")
			}
			if !body.closed.Load() {
				t.Error("the request body was not closed")
			}
		})
	}
	if !authValidTenant(strings.Repeat("t", authMaxTenantLen)) {
		t.Errorf("a %d-byte tenant was refused", authMaxTenantLen)
	}
}

// TestAuthTenantWithoutHeader checks that an override on the context is an
// error, not silently dropped, when the API has no tenant header.
func TestAuthTenantWithoutHeader(t *testing.T) {
	a := &Auth{Base: authOK(nil), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: "https://artos.example"}}
	_, err := a.RoundTrip(authNewReq(t, tenantctx.With(context.Background(), "org_1"), "GET", "https://artos.example/api", nil))
	if !errors.Is(err, errkind.InvalidCredential) {
		t.Errorf("RoundTrip error = %v, want one matching errkind.InvalidCredential", err)
	}
	resp, err := a.RoundTrip(authNewReq(t, tenantctx.With(context.Background(), ""), "GET", "https://artos.example/api", nil))
	if err != nil {
		t.Fatalf("with the override cleared: %v", err)
	}
	resp.Body.Close()
}

// TestAuthConcurrentTenants sends 100 concurrent requests, each with its own
// tenant override, and checks that each reached the server with its own.
func TestAuthConcurrentTenants(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer static-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, r.Header.Get("X-Tenant-ID")+" "+r.URL.Query().Get("i"))
	}))
	defer srv.Close()
	a := &Auth{Base: srv.Client().Transport, AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: srv.URL, TenantHeader: "X-Tenant-ID", Tenant: "default"}}
	client := &http.Client{Transport: a, CheckRedirect: a.CheckRedirect}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			ctx := tenantctx.With(context.Background(), fmt.Sprintf("tenant-%d", i))
			req := authNewReq(t, ctx, "GET", fmt.Sprintf("%s/v1/health?i=%d", srv.URL, i), nil)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("tenant-%d %d", i, i); resp.StatusCode != 200 || string(b) != want {
				errs <- fmt.Errorf("request %d: status %d body %q, want 200 %q", i, resp.StatusCode, b, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// authAPI is an httptest server that answers 401 (with AudiModal's
// TOKEN_EXPIRED body) to the tokens in reject, 200 otherwise, and records the
// calls it got.
type authAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reject func(tok string) bool
	calls  []string // "Authorization|body"
}

func newAuthAPI(t *testing.T, reject func(tok string) bool) *authAPI {
	api := &authAPI{reject: reject}
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tok := r.Header.Get("Authorization")
		api.mu.Lock()
		api.calls = append(api.calls, tok+"|"+string(b))
		api.mu.Unlock()
		if api.reject(strings.TrimPrefix(tok, "Bearer ")) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (api *authAPI) Calls() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]string(nil), api.calls...)
}

func TestAuthRefreshOn401(t *testing.T) {
	api := newAuthAPI(t, func(tok string) bool { return tok == "tok-1" })
	cred := &authTokenCred{}
	a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: cred, Origin: api.srv.URL}}

	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	resp, err := a.RoundTrip(authNewReq(t, ctx, "GET", api.srv.URL+"/v1/files", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("final answer %d %q, want 200 ok", resp.StatusCode, b)
	}
	if calls := api.Calls(); !reflect.DeepEqual(calls, []string{"Bearer tok-1|", "Bearer tok-2|"}) {
		t.Errorf("API calls = %q, want tok-1 then tok-2", calls)
	}
	if f, inv, d := cred.counts(); f != 2 || inv != 1 || d != 1 {
		t.Errorf("fetches, invalidations, drops = %d, %d, %d; want 2, 1, 1", f, inv, d)
	}
	if !reflect.DeepEqual(reused, []bool{false, true}) {
		t.Errorf("connection reused per attempt = %v, want [false true] (the 401 body drained)", reused)
	}
}

func TestAuthAlways401(t *testing.T) {
	api := newAuthAPI(t, func(string) bool { return true })
	cred := &authTokenCred{}
	a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: cred, Origin: api.srv.URL}}
	resp, err := a.RoundTrip(authNewReq(t, context.Background(), "GET", api.srv.URL+"/v1/files", nil))
	if err != nil {
		t.Fatalf("RoundTrip error %v, want the 401 response and no error", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "TOKEN_EXPIRED") {
		t.Errorf("answer %d %q, want the second 401 with its body intact", resp.StatusCode, b)
	}
	if calls := api.Calls(); len(calls) != 2 {
		t.Errorf("API calls = %q, want 2", calls)
	}
	if f, _, _ := cred.counts(); f != 2 {
		t.Errorf("token fetches = %d, want 2", f)
	}
}

// TestAuthStaticKeyNotRetried checks that a credential without Invalidator
// gets its 401 back after one call.
func TestAuthStaticKeyNotRetried(t *testing.T) {
	api := newAuthAPI(t, func(string) bool { return true })
	a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: api.srv.URL}}
	resp, err := a.RoundTrip(authNewReq(t, context.Background(), "GET", api.srv.URL+"/v1/files", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(api.Calls()) != 1 {
		t.Errorf("status %d after %d calls, want 401 after 1", resp.StatusCode, len(api.Calls()))
	}
}

func TestAuthRetryBody(t *testing.T) {
	const payload = `{"email":"a@b.c","tenant_id":"t"}`
	t.Run("GetBody: retried with the identical body", func(t *testing.T) {
		api := newAuthAPI(t, func(tok string) bool { return tok == "tok-1" })
		a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: &authTokenCred{}, Origin: api.srv.URL}}
		req := authNewReq(t, context.Background(), "POST", api.srv.URL+"/v1/things", strings.NewReader(payload))
		resp, err := a.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := []string{"Bearer tok-1|" + payload, "Bearer tok-2|" + payload}
		if calls := api.Calls(); resp.StatusCode != 200 || !reflect.DeepEqual(calls, want) {
			t.Errorf("status %d, calls %q; want 200, %q", resp.StatusCode, calls, want)
		}
	})
	t.Run("no GetBody: not retried", func(t *testing.T) {
		api := newAuthAPI(t, func(tok string) bool { return tok == "tok-1" })
		cred := &authTokenCred{}
		a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: cred, Origin: api.srv.URL}}
		req := authNewReq(t, context.Background(), "POST", api.srv.URL+"/v1/things", io.NopCloser(strings.NewReader(payload)))
		if req.GetBody != nil {
			t.Fatal("test setup: GetBody is set")
		}
		resp, err := a.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), "TOKEN_EXPIRED") || len(api.Calls()) != 1 {
			t.Errorf("status %d body %q after %d calls, want the first 401 after 1 call", resp.StatusCode, b, len(api.Calls()))
		}
		if _, inv, _ := cred.counts(); inv != 0 {
			t.Errorf("invalidations = %d, want 0 for a request that is not retried", inv)
		}
	})
}

// TestAuthConcurrent401 holds 50 concurrent requests until all of them have
// been sent with the same token, answers each with 401, and checks that the
// token was dropped once and fetched again once.
func TestAuthConcurrent401(t *testing.T) {
	const n = 50
	var arrived sync.WaitGroup
	arrived.Add(n)
	var calls atomic.Int32
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		code := 200
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			arrived.Done()
			arrived.Wait()
			code = 401
		}
		return &http.Response{StatusCode: code, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	cred := &authTokenCred{}
	a := &Auth{Base: base, AuthOptions: AuthOptions{Credential: cred, Origin: "https://api.example.com"}}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			resp, err := a.RoundTrip(authNewReq(t, context.Background(), "GET", "https://api.example.com/x", nil))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	f, inv, d := cred.counts()
	if d != 1 || inv != n || f != 2 {
		t.Errorf("drops, invalidations, fetches = %d, %d, %d; want 1, %d, 2", d, inv, f, n)
	}
	if ok.Load() != n || calls.Load() != 2*n {
		t.Errorf("%d of %d answered 200 after %d calls, want all after %d", ok.Load(), n, calls.Load(), 2*n)
	}
}

// TestAuthCallerRequestUnchanged runs a request through a tenant override
// and a 401 retry, then checks the caller's request is as it was.
func TestAuthCallerRequestUnchanged(t *testing.T) {
	api := newAuthAPI(t, func(tok string) bool { return tok == "tok-1" })
	cred := &authTokenCred{}
	a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: CredentialFunc(func(ctx context.Context, h http.Header) error {
		_, err := cred.Apply(ctx, h)
		h.Add("X-Multi", "from-credential")
		return err
	}), Origin: api.srv.URL, TenantHeader: "X-Tenant-ID"}}
	// CredentialFunc hides Invalidator; wrap so the retry still happens.
	a.Credential = struct {
		Credential
		Invalidator
	}{a.Credential, cred}

	payload := []byte(`{"name":"kept"}`)
	kept := bytes.Clone(payload)
	req := authNewReq(t, tenantctx.With(context.Background(), "tenant_9"), "PUT", api.srv.URL+"/v1/things/1?x=1", bytes.NewReader(payload))
	req.Header.Set("X-Request-Id", "req-1")
	req.Header["X-Multi"] = append(make([]string, 0, 4), "from-caller") // spare capacity
	wantHeader := req.Header.Clone()
	wantURL := req.URL.String()
	wantBody, wantGetBody, wantLen := req.Body, req.GetBody, req.ContentLength

	resp, err := a.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(api.Calls()) != 2 {
		t.Fatalf("API calls = %q, want a retry", api.Calls())
	}
	if !reflect.DeepEqual(req.Header, wantHeader) {
		t.Errorf("caller's headers changed: %v, want %v", req.Header, wantHeader)
	}
	if spare := req.Header["X-Multi"][:2]; spare[1] != "" {
		t.Errorf("the credential's Add wrote %q into the caller's header slice", spare[1])
	}
	if req.URL.String() != wantURL {
		t.Errorf("caller's URL = %s, want %s", req.URL, wantURL)
	}
	if req.Body != wantBody || req.ContentLength != wantLen || reflect.ValueOf(req.GetBody).Pointer() != reflect.ValueOf(wantGetBody).Pointer() {
		t.Error("caller's body fields changed")
	}
	if !bytes.Equal(payload, kept) {
		t.Errorf("caller's body bytes changed: %q", payload)
	}
	b, _ := req.GetBody()
	again, _ := io.ReadAll(b)
	if !bytes.Equal(again, kept) {
		t.Errorf("GetBody after the round trip = %q, want %q", again, kept)
	}
}

func TestAuthInsecure(t *testing.T) {
	static := CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) })
	tests := []struct {
		name    string
		a       *Auth
		target  string
		refused bool
	}{
		{"http to a public host", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://api.example.com"}}, "http://api.example.com/x", true},
		{"http with a port", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://api.example.com:8080"}}, "http://api.example.com:8080/x", true},
		{"http to 127.0.0.1", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://127.0.0.1:8080"}}, "http://127.0.0.1:8080/x", false},
		{"http to 127.9.9.9", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://127.9.9.9"}}, "http://127.9.9.9/x", false},
		{"http to localhost", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://LocalHost:9000"}}, "http://localhost:9000/x", false},
		{"http to ::1", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://[::1]:9000"}}, "http://[::1]:9000/x", false},
		{"AllowInsecure", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "http://api.example.com", AllowInsecure: true}}, "http://api.example.com/x", false},
		{"public endpoint, no credential", &Auth{AuthOptions: AuthOptions{Origin: "http://api.example.com"}}, "http://api.example.com/x", false},
		{"https", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "https://api.example.com"}}, "https://api.example.com/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			a := tt.a
			a.Base = authOK(&got)
			body := &authBody{Reader: strings.NewReader("x")}
			resp, err := a.RoundTrip(authNewReq(t, context.Background(), "POST", tt.target, body))
			if !tt.refused {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				resp.Body.Close()
				if got == nil {
					t.Fatal("the request was not sent")
				}
				return
			}
			var ie *InsecureError
			if !errors.As(err, &ie) || !errors.Is(err, errkind.InsecureTransport) || ie.Redirect {
				t.Fatalf("RoundTrip error = %v, want an *InsecureError matching errkind.InsecureTransport", err)
			}
			if got != nil {
				t.Error("the request was sent")
			}
			if !body.closed.Load() {
				t.Error("the request body was not closed")
			}
			if strings.Contains(err.Error(), "static-key") || strings.Contains(err.Error(), "/x") {
				t.Errorf("error %q shows a secret or a path", err)
			}
		})
	}
}

// TestAuthOriginScope checks which request URLs count as the configured
// origin, by whether the credential reaches the fake base.
func TestAuthOriginScope(t *testing.T) {
	var got *http.Request
	a := &Auth{Base: authOK(&got), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: "https://API.example.com:443/v1", AllowedOrigins: []string{"https://files.example.com:8443", "https://[2001:db8::1]"}}}
	tests := []struct {
		target string
		want   bool
	}{
		{"https://api.example.com/v1/x", true},
		{"https://api.example.com:443/other", true},
		{"HTTPS://Api.Example.COM/x", true},
		{"https://files.example.com:8443/f", true},
		{"https://[2001:db8::1]:443/f", true},
		{"https://files.example.com/f", false},
		{"https://api.example.com:8443/x", false},
		{"https://sub.api.example.com/x", false},
		{"https://api.example.com.evil.test/x", false},
		{"https://evil.test/?u=https://api.example.com", false},
		{"https://evil.test/api.example.com", false},
		{"https://api.example.com@evil.test/x", false},
		{"https://api.example.com./x", false},
	}
	for _, tt := range tests {
		got = nil
		resp, err := a.RoundTrip(authNewReq(t, context.Background(), "GET", tt.target, nil))
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		resp.Body.Close()
		if has := got.Header.Get("Authorization") != ""; has != tt.want {
			t.Errorf("%s: credential sent = %v, want %v", tt.target, has, tt.want)
		}
	}
}

// TestAuthForeignRequest checks that a request the caller addresses to
// another service is passed on as it is, with the caller's own headers, and
// that a redirect hop from our origin to that service loses them.
func TestAuthForeignRequest(t *testing.T) {
	var got *http.Request
	a := &Auth{Base: authOK(&got), AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { return authStatic(h) }), Origin: "https://api.example.com", TenantHeader: "X-Tenant-ID", Tenant: "t1"}}
	req := authNewReq(t, context.Background(), "GET", "https://other.test/x", nil)
	req.Header.Set("Authorization", "Bearer other-service")
	resp, err := a.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != req {
		t.Error("a request to another service was copied or changed")
	}

	// A hop from our origin to other.test, as net/http builds it: headers
	// copied from the first request, Response pointing at the 302.
	first := authNewReq(t, context.Background(), "GET", "https://api.example.com/start", nil)
	hop := authNewReq(t, context.Background(), "GET", "https://other.test/landing", nil)
	hop.Header.Set("X-Api-Key", "hand-set")
	hop.Header.Set("X-Tenant-ID", "hand-set")
	hop.Header.Set("Accept", "application/json")
	hop.Response = &http.Response{StatusCode: 302, Request: first}
	resp, err = a.RoundTrip(hop)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := http.Header{"Accept": {"application/json"}}
	if !reflect.DeepEqual(got.Header, want) {
		t.Errorf("foreign hop sent headers %v, want %v", got.Header, want)
	}
	if hop.Header.Get("X-Api-Key") != "hand-set" {
		t.Error("the hop request itself was modified")
	}
}

func TestAuthApplyError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	a := &Auth{Base: testrt.Func(func(*http.Request) (*http.Response, error) { called = true; return nil, errors.New("unreachable") }), AuthOptions: AuthOptions{Credential: CredentialFunc(func(ctx context.Context, _ http.Header) error {
		return fmt.Errorf("apiauth: token refresh: %w", ctx.Err())
	}), Origin: "https://api.example.com"}}
	body := &authBody{Reader: strings.NewReader("x")}
	_, err := a.RoundTrip(authNewReq(t, ctx, "POST", "https://api.example.com/x", body))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RoundTrip error = %v, want one wrapping context.Canceled", err)
	}
	if called || !body.closed.Load() {
		t.Errorf("sent = %v, body closed = %v; want false, true", called, body.closed.Load())
	}
}

func TestAuthValidate(t *testing.T) {
	static := CredentialFunc(func(context.Context, http.Header) error { return nil })
	tests := []struct {
		name string
		a    *Auth
		ok   bool
	}{
		{"zero value", &Auth{}, true},
		{"public endpoint", &Auth{AuthOptions: AuthOptions{Origin: "https://api.example.com"}}, true},
		{"credential without origin", &Auth{AuthOptions: AuthOptions{Credential: static}}, false},
		{"tenant header without origin", &Auth{AuthOptions: AuthOptions{TenantHeader: "X-Tenant-ID"}}, false},
		{"relative origin", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "/v1"}}, false},
		{"ftp origin", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "ftp://api.example.com"}}, false},
		{"origin with user info", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "https://user:hunter2@api.example.com"}}, false},
		{"unparsable origin", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "https://api.example.com:port/%zz"}}, false},
		{"bad allowed origin", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "https://a.test", AllowedOrigins: []string{"hunter2"}}}, false},
		{"tenant without header", &Auth{AuthOptions: AuthOptions{Origin: "https://a.test", Tenant: "t1"}}, false},
		{"invalid tenant", &Auth{AuthOptions: AuthOptions{Origin: "https://a.test", TenantHeader: "X-Tenant-ID", Tenant: "t\r\n1"}}, false},
		{"invalid tenant header", &Auth{AuthOptions: AuthOptions{Origin: "https://a.test", TenantHeader: "X Tenant"}}, false},
		{"full", &Auth{AuthOptions: AuthOptions{Credential: static, Origin: "https://a.test/v1", AllowedOrigins: []string{"https://b.test"}, TenantHeader: "x-tenant-id", Tenant: "t1"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				return
			}
			if !strings.HasPrefix(err.Error(), "apiauth: ") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want an apiauth: prefix and no secret", err)
			}
			body := &authBody{Reader: strings.NewReader("x")}
			if _, rtErr := tt.a.RoundTrip(authNewReq(t, context.Background(), "POST", "https://a.test/", body)); rtErr == nil || rtErr.Error() != err.Error() {
				t.Errorf("RoundTrip error = %v, want the Validate error", rtErr)
			}
			if !body.closed.Load() {
				t.Error("RoundTrip did not close the body")
			}
		})
	}
}

// TestAuthStrippedHeaders checks the documented list of stripped headers.
func TestAuthStrippedHeaders(t *testing.T) {
	a := &Auth{AuthOptions: AuthOptions{Credential: redirCred{}, Origin: "https://a.test", TenantHeader: "x-organization-id"}}
	want := []string{"Authorization", "X-Api-Key", "X-Organization-Id", "X-Extra-Secret"}
	if got := a.StrippedHeaders(); !reflect.DeepEqual(got, want) {
		t.Errorf("StrippedHeaders() = %q, want %q", got, want)
	}
}

// TestAuthDocumentedDefaults checks the figures the documentation states.
func TestAuthDocumentedDefaults(t *testing.T) {
	if authMaxTenantLen != 256 {
		t.Errorf("longest tenant = %d, documented as 256", authMaxTenantLen)
	}
	want := []string{"Authorization", "X-Api-Key"}
	if got := (&Auth{}).StrippedHeaders(); !reflect.DeepEqual(got, want) {
		t.Errorf("zero Auth strips %q, documented as %q", got, want)
	}
}

// TestAuthDefaultBase checks that a nil Base uses a clone of
// http.DefaultTransport, not the shared value.
func TestAuthDefaultBase(t *testing.T) {
	a := &Auth{}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.cfg.base == http.DefaultTransport {
		t.Error("nil Base uses http.DefaultTransport itself")
	}
	if _, ok := a.cfg.base.(*http.Transport); !ok {
		t.Errorf("nil Base uses %T, want a *http.Transport clone", a.cfg.base)
	}
	a.CloseIdleConnections()
}

// TestAuthLogsNoSecret checks the log records of a 401 retry.
func TestAuthLogsNoSecret(t *testing.T) {
	api := newAuthAPI(t, func(tok string) bool { return tok == "tok-1" })
	var buf bytes.Buffer
	a := &Auth{Base: api.srv.Client().Transport, AuthOptions: AuthOptions{Credential: &authTokenCred{}, Origin: api.srv.URL, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}}
	resp, err := a.RoundTrip(authNewReq(t, context.Background(), "GET", api.srv.URL+"/v1/x?api_key=q-secret", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := buf.String()
	if !strings.Contains(out, "retrying once") {
		t.Errorf("log = %q, want a record of the retry", out)
	}
	if strings.Contains(out, "tok-") || strings.Contains(out, "q-secret") {
		t.Errorf("log leaks a token or query: %q", out)
	}
}

// authBench returns a fake base answering a canned response, a request, and
// an Auth in front of the base with a static bearer credential and a tenant.
func authBench(tb testing.TB) (http.RoundTripper, *Auth, *http.Request) {
	req := authNewReq(tb, tenantctx.With(context.Background(), "tenant_456"), "GET", "https://api.audimodal.ai/v1/files?page=2", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "apiauth-bench")
	canned := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}
	base := testrt.Func(func(*http.Request) (*http.Response, error) { return canned, nil })
	const bearer = "Bearer sk_live_0123456789abcdef"
	a := &Auth{Base: base, AuthOptions: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error { h.Set("Authorization", bearer); return nil }), Origin: "https://api.audimodal.ai", TenantHeader: "X-Tenant-ID"}}
	return base, a, req
}

// TestAuthAllocs checks the hot path's cost: at most 6 allocations over a
// bare round trip, the credential's own Header.Set included.
func TestAuthAllocs(t *testing.T) {
	base, a, req := authBench(t)
	bare := testing.AllocsPerRun(100, func() { base.RoundTrip(req) })
	auth := testing.AllocsPerRun(100, func() { a.RoundTrip(req) })
	if auth-bare > 6 {
		t.Errorf("Auth.RoundTrip allocates %v times, bare %v: more than 6 extra", auth, bare)
	}
}

func BenchmarkAuth(b *testing.B) {
	base, a, req := authBench(b)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			base.RoundTrip(req)
		}
	})
	b.Run("auth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.RoundTrip(req)
		}
	})
}

// FuzzOriginMatch checks the allocation-free origin match against a plain
// reference built on net/url.
func FuzzOriginMatch(f *testing.F) {
	for _, s := range []string{
		"https://api.audimodal.ai/v1/files", "https://API.audimodal.ai:443/x", "http://api.audimodal.ai/",
		"https://api.audimodal.ai:8443/", "https://sub.api.audimodal.ai/", "https://[::1]:443/", "HTTPS://api.audimodal.ai",
		"https://api.audimodal.ai@evil.test/", "//api.audimodal.ai/x", "https://api.audimodal.ai:/x",
		"https://apı.audimodal.ai/", "https://api.audimodal.aı/", "https://\u212Aey.audimodal.ai/",
	} {
		f.Add(s)
	}
	o, err := parseAuthOrigin("Origin", "https://api.audimodal.ai")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		lower := func(s string) string { // ASCII only, as DNS names compare
			return strings.Map(func(r rune) rune {
				if 'A' <= r && r <= 'Z' {
					return r + 'a' - 'A'
				}
				return r
			}, s)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[lower(u.Scheme)]
		}
		want := lower(u.Scheme) == "https" && lower(u.Hostname()) == "api.audimodal.ai" && port == "443"
		if got := o.matches(u); got != want {
			t.Errorf("matches(%q) = %v, want %v", s, got, want)
		}
		if originSame(u, &url.URL{Scheme: "https", Host: "api.audimodal.ai"}) != want {
			t.Errorf("originSame(%q) disagrees with matches", s)
		}
	})
}
