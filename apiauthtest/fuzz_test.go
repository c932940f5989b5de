package apiauthtest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
)

// fuzzServer is a server with rate limits out of the fuzzer's reach; the
// fuzz targets call its handler in-process.
func fuzzServer(f *testing.F) *apiauthtest.Server {
	srv := apiauthtest.Start(apiauthtest.Config{
		PlainHTTP:          true,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: 1 << 30, Anonymous: 1 << 30},
		VoltasisRateLimit:  apiauthtest.RateLimit{Limit: 1 << 30, Anonymous: 1 << 30},
	})
	f.Cleanup(srv.Close)
	return srv
}

// FuzzAudiModalAuthorization feeds arbitrary Authorization headers to a
// protected AudiModal endpoint: the answer is 200 only for a real
// credential, otherwise 401 with a documented code, never a 5xx.
func FuzzAudiModalAuthorization(f *testing.F) {
	srv := fuzzServer(f)
	valid := srv.MintAudiModalToken(apiauthtest.AudiModalEmail, time.Hour)
	known := map[string]bool{
		apiauthtest.AudiModalLiveKey: true, apiauthtest.AudiModalTestKey: true, apiauthtest.AudiModalTenantKey: true, valid: true,
	}
	for _, seed := range []string{
		"Bearer " + apiauthtest.AudiModalLiveKey,
		"Bearer sk_live_1234567890abcdef",
		"Bearer tk_tenant_123_abc123",
		"Bearer " + valid,
		"Bearer " + srv.MintAudiModalToken(apiauthtest.AudiModalEmail, -time.Minute),
		"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
		"Basic abc", "Bearer", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, authz string) {
		req := httptest.NewRequest("GET", "/audimodal/v1/health", nil)
		req.Header["Authorization"] = []string{authz}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		scheme, tok, _ := strings.Cut(authz, " ")
		tok = strings.TrimSpace(tok)
		switch rec.Code {
		case http.StatusOK:
			if !strings.EqualFold(scheme, "Bearer") || !known[tok] {
				t.Fatalf("accepted %q", authz)
			}
		case http.StatusUnauthorized:
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil ||
				(body.Error.Code != "INVALID_API_KEY" && body.Error.Code != "TOKEN_EXPIRED") {
				t.Fatalf("401 body %q", rec.Body)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, authz)
		}
	})
}

// FuzzTokenEndpointBodies feeds arbitrary bodies to the token endpoints:
// they answer the documented success or client-error statuses, never a 5xx.
func FuzzTokenEndpointBodies(f *testing.F) {
	srv := fuzzServer(f)
	for _, seed := range []string{
		`{"user_id": "YOUR_USER_ID"}`,
		`{"user_id":"user_123"}`,
		`{"email":"user@company.com","password":"secure_password","tenant_id":"tenant_123"}`,
		`{"refresh_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."}`,
		`{"allowed_ips":["192.168.1.0/24","10.0.0.100"]}`,
		`{"name":"CI/CD Pipeline Key","scopes":["read:users","write:time-entries"],"expires_at":"2024-12-31T23:59:59Z"}`,
		``, `null`, `[]`, `{"user_id":null}`,
	} {
		f.Add(seed)
	}
	endpoints := []struct {
		path, key string
		ok        int
	}{
		{"/artos/get-access-token", "", 200},
		{"/audimodal/v1/auth/login", "", 200},
		{"/audimodal/v1/auth/refresh", "", 200},
		{"/audimodal/v1/auth/ip-allowlist", apiauthtest.AudiModalLiveKey, 200},
		{"/voltasis/api/v1/api-keys", apiauthtest.VoltasisAdminKey, 201},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, e := range endpoints {
			req := httptest.NewRequest("POST", e.path, strings.NewReader(body))
			if e.key != "" {
				req.Header.Set("Authorization", "Bearer "+e.key)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if c := rec.Code; c != e.ok && (c < 400 || c >= 500) {
				t.Fatalf("%s: status %d for %q", e.path, c, body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: body %q is not JSON", e.path, rec.Body)
			}
		}
	})
}
