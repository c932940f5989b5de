package apiauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/artanis"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/voltasis"
)

// mockFamily returns a client at base over an httpmock transport, and the
// transport to register canned answers on.
func mockFamily(t *testing.T, base string) (*apiauth.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	c, err := apiauth.NewClient(base, nil, &apiauth.ClientOptions{Base: mt})
	if err != nil {
		t.Fatal(err)
	}
	return c, mt
}

// recordJSON answers status with body and stores the request's JSON body
// in *got.
func recordJSON(got *map[string]any, status int, body string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		*got = nil
		_ = json.Unmarshal(b, got)
		return httpmock.NewStringResponse(status, body), nil
	}
}

func TestFamiliesWireEdgeCases(t *testing.T) {
	ctx := context.Background()

	t.Run("Voltasis create: request body", func(t *testing.T) {
		c, mt := mockFamily(t, voltasis.BaseURL)
		var sent map[string]any
		mt.RegisterResponder("POST", voltasis.BaseURL+"/api/v1/api-keys",
			recordJSON(&sent, 201, `{"data":{"id":"key_1","name":"ci","scopes":[],"created_at":"2024-06-13T00:00:00Z","expires_at":null,"key":"vk_0123456789abcdefghij"}}`))
		v := voltasis.Client{Client: c}
		paris := time.FixedZone("CEST", 2*3600)
		if _, err := v.CreateAPIKey(ctx, voltasis.KeyRequest{Name: "ci", ExpiresAt: time.Date(2025, 1, 1, 1, 59, 59, 0, paris)}); err != nil {
			t.Fatal(err)
		}
		if sent["name"] != "ci" || sent["expires_at"] != "2024-12-31T23:59:59Z" {
			t.Errorf("sent %v", sent)
		}
		if _, ok := sent["scopes"]; ok {
			t.Errorf("nil scopes sent: %v", sent)
		}
		created, err := v.CreateAPIKey(ctx, voltasis.KeyRequest{Name: "ci", Scopes: []string{"read:users"}})
		if err != nil || !created.ExpiresAt.IsZero() || created.Key.Secret() != "vk_0123456789abcdefghij" {
			t.Errorf("created = %+v, %v", created, err)
		}
		if s, _ := sent["scopes"].([]any); len(s) != 1 || s[0] != "read:users" {
			t.Errorf("sent scopes %v", sent["scopes"])
		}
		if _, err := v.CreateAPIKey(ctx, voltasis.KeyRequest{}); err == nil {
			t.Error("a key without a name was accepted")
		}
	})

	t.Run("Voltasis create: answer without a usable secret", func(t *testing.T) {
		for _, body := range []string{
			`{"data":{"id":"key_2","name":"ci"}}`,
			`{"data":{"id":"key_2","name":"ci","key":"vk_has a space_0123456789"}}`,
		} {
			c, mt := mockFamily(t, voltasis.BaseURL)
			mt.RegisterResponder("POST", voltasis.BaseURL+"/api/v1/api-keys", httpmock.NewStringResponder(201, body))
			created, err := voltasis.Client{Client: c}.CreateAPIKey(ctx, voltasis.KeyRequest{Name: "ci"})
			if created == nil || created.ID != "key_2" || !errors.Is(err, apiauth.ErrInvalidCredential) {
				t.Errorf("%s: created %+v, err %v; want the ID and an ErrInvalidCredential", body, created, err)
			}
			if err != nil && (strings.Contains(err.Error(), "vk_has") || !strings.Contains(err.Error(), "key_2")) {
				t.Errorf("error %q: want the key ID, never the secret", err)
			}
		}
	})

	t.Run("AudiModal login: password on the wire, typed answer", func(t *testing.T) {
		c, mt := mockFamily(t, audimodal.BaseURL)
		var sent map[string]any
		mt.RegisterResponder("POST", audimodal.BaseURL+"/v1/auth/login", recordJSON(&sent, 200,
			`{"access_token":"at_0123456789abcdef","refresh_token":"rt_0123456789abcdef","token_type":"bearer","expires_in":3600,
			  "user":{"id":"user_123","email":"user@company.com","role":"admin","tenant_id":"tenant_123"}}`))
		login := apiauth.Login{Email: "user@company.com", Password: "secure_password", TenantID: "tenant_123"}
		before := time.Now()
		sess, err := audimodal.Client{Client: c}.Login(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		if sent["email"] != login.Email || sent["password"] != login.Password || sent["tenant_id"] != login.TenantID {
			t.Errorf("sent %v", sent)
		}
		if d := sess.Token.Expiry.Sub(before); sess.Token.Type() != "Bearer" || d < time.Hour-time.Second || d > time.Hour+time.Second {
			t.Errorf("token %v expires in %s", sess.Token, d)
		}
		if sess.User.Role != "admin" || sess.User.TenantID != "tenant_123" {
			t.Errorf("user = %+v", sess.User)
		}
	})

	t.Run("AudiModal answers", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, body string
			call             func(audimodal.Client) (*audimodal.Session, error)
			check            func(*audimodal.Session) bool
			wantErr          bool
		}{
			{name: "refresh without a new refresh token keeps the presented one", path: "/v1/auth/refresh",
				body:  `{"access_token":"at_1","expires_in":60}`,
				call:  func(a audimodal.Client) (*audimodal.Session, error) { return a.Refresh(ctx, "rt_presented") },
				check: func(s *audimodal.Session) bool { return s.Token.RefreshToken == "rt_presented" }},
			{name: "null user", path: "/v1/auth/refresh", body: `{"access_token":"at_1","refresh_token":"rt_2","user":null}`,
				call: func(a audimodal.Client) (*audimodal.Session, error) { return a.Refresh(ctx, "rt_1") },
				check: func(s *audimodal.Session) bool {
					return s.User == audimodal.User{} && s.Token.Expiry.IsZero()
				}},
			{name: "no access token", path: "/v1/auth/login", body: `{"refresh_token":"rt_2"}`, wantErr: true,
				call: func(a audimodal.Client) (*audimodal.Session, error) {
					return a.Login(ctx, apiauth.Login{Email: "e", Password: "p"})
				}},
			{name: "malformed user", path: "/v1/auth/login", body: `{"access_token":"at_1","user":"at_1"}`, wantErr: true,
				call: func(a audimodal.Client) (*audimodal.Session, error) {
					return a.Login(ctx, apiauth.Login{Email: "e", Password: "p"})
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, mt := mockFamily(t, audimodal.BaseURL)
				mt.RegisterResponder("POST", audimodal.BaseURL+tc.path, httpmock.NewStringResponder(200, tc.body))
				s, err := tc.call(audimodal.Client{Client: c})
				switch {
				case tc.wantErr && (err == nil || s != nil):
					t.Errorf("session %+v, err %v; want an error", s, err)
				case tc.wantErr && strings.Contains(err.Error(), "at_1"):
					t.Errorf("error shows the token: %v", err)
				case !tc.wantErr && (err != nil || !tc.check(s)):
					t.Errorf("session %+v, err %v", s, err)
				}
			})
		}
	})

	t.Run("Artos token without exp claim", func(t *testing.T) {
		c, mt := mockFamily(t, artos.BaseURL)
		mt.RegisterResponder("POST", artos.BaseURL+"/get-access-token",
			httpmock.NewStringResponder(200, `{"access_token":"opaque_0123456789abcdef","token_type":"bearer"}`))
		tok, err := artos.Client{Client: c}.GetAccessToken(ctx, "user_1")
		if err != nil || !tok.Expiry.IsZero() || tok.Type() != "Bearer" {
			t.Errorf("token %v, %v; want an unknown expiry", tok, err)
		}
	})
}

// TestClientKeepsPathEscapes: an escaped slash in a request path (an ID
// holding "/") or in the base URL's prefix reaches the server escaped.
func TestClientKeepsPathEscapes(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.RequestURI
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, tc := range []struct{ base, path, want string }{
		{srv.URL + "/v1", "api/v1/api-keys/a%2Fb", "/v1/api/v1/api-keys/a%2Fb"},
		{srv.URL + "/pre%2Ffix/", "/keys/a%2Fb?x=1", "/pre%2Ffix/keys/a%2Fb?x=1"},
		{srv.URL + "/pre%2Ffix", "plain/path", "/pre%2Ffix/plain/path"},
		{srv.URL, "a%20b/c", "/a%20b/c"},
	} {
		c, err := apiauth.NewClient(tc.base, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Delete(context.Background(), tc.path, nil); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("base %q + %q: server saw %q, want %q", tc.base, tc.path, got, tc.want)
		}
		c.CloseIdleConnections()
	}
}

// TestFamiliesZeroValue: a wrapper without a client fails every call with
// an error naming it, and never panics.
func TestFamiliesZeroValue(t *testing.T) {
	ctx := context.Background()
	login := apiauth.Login{Email: "e", Password: "p"}
	for name, call := range map[string]func() error{
		"Artos.GetAccessToken": func() error { _, err := artos.Client{}.GetAccessToken(ctx, "u"); return err },
		"Artos.SearchStatus":   func() error { _, err := artos.Client{}.SearchStatus(ctx); return err },
		"Artos.ListDocuments":  func() error { _, err := artos.Client{}.ListDocuments(ctx); return err },
		"Artos.ListTemplates":  func() error { _, err := artos.Client{}.ListTemplates(ctx); return err },
		"Artanis.ListPrompts":  func() error { _, err := artanis.Client{}.ListPrompts(ctx, "p"); return err },
		"Voltasis.Me":          func() error { _, err := voltasis.Client{}.Me(ctx); return err },
		"Voltasis.CreateAPIKey": func() error {
			_, err := voltasis.Client{}.CreateAPIKey(ctx, voltasis.KeyRequest{Name: "n"})
			return err
		},
		"Voltasis.ListAPIKeys":     func() error { _, err := voltasis.Client{}.ListAPIKeys(ctx); return err },
		"Voltasis.RevokeAPIKey":    func() error { return voltasis.Client{}.RevokeAPIKey(ctx, "key_1") },
		"AudiModal.Login":          func() error { _, err := audimodal.Client{}.Login(ctx, login); return err },
		"AudiModal.Refresh":        func() error { _, err := audimodal.Client{}.Refresh(ctx, "rt"); return err },
		"AudiModal.Health":         func() error { _, err := audimodal.Client{}.Health(ctx); return err },
		"AudiModal.SetIPAllowlist": func() error { _, err := audimodal.Client{}.SetIPAllowlist(ctx, nil); return err },
		"AudiModal.ListFiles":      func() error { _, err := audimodal.Client{}.ListFiles(ctx); return err },
	} {
		family, _, _ := strings.Cut(name, ".")
		family = strings.ToLower(family)
		if err := call(); err == nil || err.Error() != family+": no apiauth.Client (build one with "+family+".NewClient)" {
			t.Errorf("zero %s: %v", name, err)
		}
	}
}
