package apiauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/leakcheck"
)

// parseFuzzRT answers every request with the same canned response.
type parseFuzzRT struct {
	status int
	ctype  string
	body   []byte
}

func (rt parseFuzzRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	h := http.Header{}
	if rt.ctype != "" {
		h.Set("Content-Type", rt.ctype)
	}
	return &http.Response{
		StatusCode: rt.status, Header: h, Request: req,
		Body: io.NopCloser(bytes.NewReader(rt.body)), ContentLength: int64(len(rt.body)),
	}, nil
}

// parseFuzzStatus maps an arbitrary int onto a valid HTTP status.
func parseFuzzStatus(n int) int {
	if n < 0 {
		n = -n
	}
	return 100 + n%500
}

// FuzzTokenResponses feeds arbitrary token endpoint answers (status,
// Content-Type, body) to the Artos token endpoint source and to the
// AudiModal login and refresh source, through their public API. Either a
// token with a non-empty access token comes back, exactly as the body held
// it, or an error starting with "apiauth: " that never quotes the token, and
// typed (*apiauth.Error) whenever the status was 400 or more.
func FuzzTokenResponses(f *testing.F) {
	for _, s := range []struct {
		status int
		ctype  string
		body   string
	}{
		{200, "application/json", `{"access_token": "YOUR_ACCESS_TOKEN"}`},
		{200, "application/json", `{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...","refresh_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...","token_type":"Bearer","expires_in":3600,"user":{"id":"user_123","email":"user@company.com","role":"admin","tenant_id":"tenant_123"}}`},
		{200, "application/json", `{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTY5OTk5NjQwMH0.c2ln"}`},
		{200, "application/json", `{"access_token":"a","expires_in":"3600"}`},
		{200, "application/json", `{"access_token":"a","expires_in":1e300,"user":null}`},
		{200, "application/json", `{}`},
		{200, "application/json", `{"access_token":null}`},
		{200, "application/json", `{"access_token":12}`},
		{200, "text/html", `<html><body>Login</body></html>`},
		{200, "application/json", `{"access_token":"eyJhbGciOiJIUzI1NiIs`},
		{401, "application/json", `{"detail":"Invalid authentication credentials"}`},
		{422, "application/json", `{"detail":[{"loc":["body","user_id"],"msg":"field required","type":"value_error.missing"}]}`},
		{401, "application/json", `{"error":{"code":"TOKEN_EXPIRED","message":"Refresh token has expired","expires_at":"2024-01-01T12:00:00Z"}}`},
		{429, "application/json", `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`},
		{503, "text/plain", `Service Unavailable`},
		{302, "", ``},
		{204, "", ``},
	} {
		f.Add(s.status, s.ctype, []byte(s.body))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		status = parseFuzzStatus(status)
		rt := parseFuzzRT{status: status, ctype: ctype, body: body}
		opts := &apiauth.SourceOptions{HTTPClient: &http.Client{Transport: rt}, MaxResponseSize: 4 << 10}
		artos, err := apiauth.NewTokenEndpoint("https://api.artosai.test/get-access-token", "user_123", opts)
		if err != nil {
			t.Fatal(err)
		}
		login, err := apiauth.NewLoginSource("https://api.audimodal.test/v1",
			apiauth.Login{Email: "user@company.com", Password: "secure_password", TenantID: "tenant_123"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		// What a tolerant decoder would find in the body.
		var want struct {
			AccessToken any `json:"access_token"`
		}
		decodes := json.Unmarshal(body, &want) == nil
		access, _ := want.AccessToken.(string)

		calls := []func() (*apiauth.Token, error){
			func() (*apiauth.Token, error) { return artos.Token(ctx) },
			func() (*apiauth.Token, error) { return login.Token(ctx) },
			func() (*apiauth.Token, error) {
				return login.RenewToken(ctx, &apiauth.Token{AccessToken: "old", RefreshToken: "refresh-" + strconv.Itoa(status)})
			},
		}
		for i, call := range calls {
			tok, err := call()
			if err == nil {
				if tok == nil || tok.AccessToken == "" {
					t.Fatalf("call %d: no error and no access token", i)
				}
				if status >= 400 {
					t.Fatalf("call %d: status %d accepted", i, status)
				}
				if !decodes || tok.AccessToken != access {
					t.Fatalf("call %d: access token %q, body %q", i, tok.AccessToken, body)
				}
				if len(body) > 4<<10 {
					t.Fatalf("call %d: %d-byte body accepted past the 4 KiB limit", i, len(body))
				}
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "apiauth: ") {
				t.Fatalf("call %d: error %q lacks the apiauth: prefix", i, msg)
			}
			// An error answer's message is the server's own words, shown as
			// such (it may well repeat any text of the body); only the
			// errors our decoding of a success raises must not quote it.
			if status < 400 && len(access) >= 8 && strings.Contains(msg, access) {
				t.Fatalf("call %d: error %q quotes the access token", i, msg)
			}
			if status >= 400 {
				var apiErr *apiauth.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
					t.Fatalf("call %d: status %d gave untyped error %v", i, status, err)
				}
			}
		}
	})
}

// FuzzCheckResponse feeds arbitrary error answers to CheckResponse: the
// status, the Retry-After, X-RateLimit-Reset and Date headers, the
// Content-Type and the body. It never panics; statuses below 400 give nil,
// others a typed error whose message is one line starting with
// "apiauth: ", whose waits are never negative, and the caller can still read
// the body CheckResponse consumed.
func FuzzCheckResponse(f *testing.F) {
	f.Add(429, "", "1640995200", "", "application/json", []byte(`{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`))
	f.Add(429, "120", "", "", "application/json", []byte(`{"error":{"code":"RATE_LIMIT_EXCEEDED"}}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", "", "Wed, 21 Oct 2015 07:27:00 GMT", "text/html", []byte(`<html>503</html>`))
	f.Add(401, "", "", "", "application/json", []byte(`{"detail":"Not authenticated"}`))
	f.Add(401, "", "", "", "application/json", []byte(`{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`))
	f.Add(403, "", "", "", "application/json", []byte(`{"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"Insufficient permissions for this operation","required_role":"admin"}}`))
	f.Add(403, "", "", "", "text/plain", []byte("Forbidden"))
	f.Add(429, "-1", "-5", "", "", []byte(`{"retry_after":-1}`))
	f.Add(429, "99999999999999999999", "99999999999999999999", "", "", []byte(`{"retry_after":1e400}`))
	f.Add(429, "", "1.5e9", "", "", []byte(``))
	f.Add(200, "", "", "", "application/json", []byte(`{}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter, reset, date, ctype string, body []byte) {
		status = parseFuzzStatus(status)
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, "X-RateLimit-Reset": reset, "Date": date, "Content-Type": ctype} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.test/v1/files?key=sk_live_secret", nil)
		resp := &http.Response{StatusCode: status, Header: h, Request: req, Body: io.NopCloser(bytes.NewReader(body))}
		err := apiauth.CheckResponse(resp)
		if status < 400 {
			if err != nil {
				t.Fatalf("status %d: %v", status, err)
			}
			return
		}
		var apiErr *apiauth.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
			t.Fatalf("status %d: error %v is not a typed *apiauth.Error", status, err)
		}
		if apiErr.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", apiErr.RetryAfter)
		}
		if status == http.StatusTooManyRequests {
			var rl *apiauth.RateLimitError
			if !errors.As(err, &rl) || !errors.Is(err, apiauth.ErrRateLimited) || rl.RetryAfter < 0 {
				t.Fatalf("429 gave %#v", err)
			}
		}
		for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%v", apiErr)} {
			if !strings.HasPrefix(form, "apiauth") || strings.ContainsAny(form, "\r\n\x00") {
				t.Fatalf("bad error form %q", form)
			}
			if strings.Contains(form, "sk_live_secret") {
				t.Fatalf("error form %q shows the query string", form)
			}
		}
		if !utf8.ValidString(err.Error()) && utf8.Valid(body) {
			t.Fatalf("error %q is not UTF-8 although the body was", err)
		}
		rest, _ := io.ReadAll(resp.Body)
		if want := body[:min(len(body), 4<<10)]; !bytes.Equal(rest, want) {
			t.Fatalf("body left for the caller: %d bytes, want %d", len(rest), len(want))
		}
	})
}

// FuzzCredentialForms feeds arbitrary secrets to the credential
// constructors (static tokens, header pairs, strict API keys). A secret is
// accepted only if it is visible ASCII, and an accepted one never shows in
// any printed form: fmt verbs, encoding/json or log/slog.
func FuzzCredentialForms(f *testing.F) {
	for _, s := range [][2]string{
		{"sk_live_1234567890abcdef", "my-org"},
		{"sk_test_abcdef123456", "my-org"},
		{"tk_tenant_123_abc123", "tenant_123"},
		{"vk_0123456789abcdefghij", "org_123456789"},
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.sig", "o"},
		{"a b", "org"}, {"key\r\nX-Evil: 1", "org"}, {"", ""}, {"k", "bad slug"}, {"sk_live_", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, secret, slug string) {
		visible := secret != ""
		for i := 0; i < len(secret); i++ {
			if secret[i] <= ' ' || secret[i] >= 0x7f {
				visible = false
			}
		}
		// other is a secret of the same length and prefix, made of a byte
		// secret lacks: text that shows for both is the template, not a leak.
		other := func() string {
			keep := 0
			for _, p := range []string{"sk_live_", "sk_test_", "tk_"} {
				if strings.HasPrefix(secret, p) {
					keep = len(p)
				}
			}
			c := "x"
			if strings.Contains(secret, c) {
				c = "y"
				if strings.Contains(secret, c) {
					c = "z"
				}
			}
			return secret[:keep] + strings.Repeat(c, len(secret)-keep)
		}()
		forms := func(v any) string {
			var b strings.Builder
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T"} {
				fmt.Fprintf(&b, verb+"\n", v)
			}
			j, _ := json.Marshal(v)
			b.Write(j)
			slog.New(slog.NewJSONHandler(&b, nil)).Info("m", "cred", v)
			slog.New(slog.NewTextHandler(&b, nil)).Info("m", "cred", v)
			return b.String()
		}
		// tailTwin keeps only the secret's last four bytes, which the
		// redacted forms show on purpose: a secret that shows in the
		// rendering of its twin too (one made of the mask "***" and
		// escapes of those four bytes, say) is rebuilt from what is shown,
		// not leaked.
		tailTwin := func(s string) string {
			if len(s) <= 4 {
				return s
			}
			return strings.Repeat("Q", len(s)-4) + s[len(s)-4:]
		}
		leaks := func(v, w, twin any) bool {
			return len(secret) >= 8 && strings.Contains(forms(v), secret) && !strings.Contains(forms(w), secret) &&
				(twin == nil || !strings.Contains(forms(twin), secret))
		}
		check := func(name string, v any, err error, mk func(string) any, mkErr func(string) error) {
			if err != nil {
				// The same constructor's error for a secret of the same
				// byte classes: text both show is the template's.
				sib := mkErr(leakcheck.Sibling(secret))
				if sib == nil {
					t.Fatalf("%s: %q refused (%v), its sibling %q accepted", name, secret, err, leakcheck.Sibling(secret))
				}
				if leakcheck.Quotes(err.Error(), sib.Error(), secret) {
					t.Fatalf("%s: error %q contains the secret", name, err)
				}
				return
			}
			if !visible {
				t.Fatalf("%s: accepted a secret with an invisible byte: %q", name, secret)
			}
			if leaks(v, mk(other), mk(tailTwin(secret))) {
				t.Fatalf("%s: the secret shows: %s", name, forms(v))
			}
		}
		st, err := apiauth.NewStaticToken(secret)
		check("NewStaticToken", st, err, func(s string) any { v, _ := apiauth.NewStaticToken(s); return v },
			func(s string) error { _, err := apiauth.NewStaticToken(s); return err })
		hp, err := apiauth.NewHeaderPair(secret, slug)
		check("NewHeaderPair", hp, err, func(s string) any { v, _ := apiauth.NewHeaderPair(s, slug); return v },
			func(s string) error { _, err := apiauth.NewHeaderPair(s, slug); return err })
		k, err := apiauth.ParseAPIKey(secret)
		check("ParseAPIKey", k, err, func(s string) any { v, _ := apiauth.ParseAPIKey(s); return v },
			func(s string) error { _, err := apiauth.ParseAPIKey(s); return err })
		tok := apiauth.Token{AccessToken: secret, RefreshToken: secret, Expiry: time.Unix(1700000000, 0)}
		twin := apiauth.Token{AccessToken: tailTwin(secret), RefreshToken: tailTwin(secret), Expiry: time.Unix(1700000000, 0)}
		if leaks(tok, apiauth.Token{AccessToken: other, RefreshToken: other, Expiry: time.Unix(1700000000, 0)}, twin) {
			t.Fatalf("Token: the secret shows: %s", forms(tok))
		}
	})
}
