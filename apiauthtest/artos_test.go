package apiauthtest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiauth/apiauth/apiauthtest"
)

func TestArtosTokenAndOrgScopedLists(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now)})
	defer srv.Close()
	base := srv.URL(apiauthtest.Artos)

	r := do(t, srv, "POST", base+"/get-access-token", `{"user_id":"user_123"}`)
	r.want(t, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := decode[map[string]any](t, r)
	if len(body) != 1 {
		t.Errorf("token answer has fields %v, want only access_token (no expires_in)", body)
	}
	tok, _ := body["access_token"].(string)
	c := claims(t, srv, tok)
	if c["sub"] != apiauthtest.ArtosUserID || c["org_id"] != apiauthtest.ArtosOrgID || c["iss"] != "artos" {
		t.Errorf("claims = %v", c)
	}
	if iat, exp := unix(t, c, "iat"), unix(t, c, "exp"); iat != now.Unix() || exp-iat != int64(apiauthtest.DefaultArtosTokenTTL/time.Second) {
		t.Errorf("iat = %d, exp = %d; want iat %d and a %s lifetime", iat, exp, now.Unix(), apiauthtest.DefaultArtosTokenTTL)
	}

	auth := []string{"Authorization", "Bearer " + tok}
	do(t, srv, "GET", base+"/api/v1/documents/", "", auth...).want(t, http.StatusOK,
		`[{"id":"doc_1","name":"Quarterly report","organization_id":"org_123"},{"id":"doc_2","name":"Study protocol","organization_id":"org_123"}]`)
	do(t, srv, "GET", base+"/api/v1/templates/", "", auth...).want(t, http.StatusOK,
		`[{"id":"tpl_1","name":"Protocol template","organization_id":"org_123"}]`)

	// Another organization's user sees its own documents only.
	other := artosToken(t, srv, apiauthtest.ArtosOtherUserID)
	do(t, srv, "GET", base+"/api/v1/documents/", "", "Authorization", "Bearer "+other).want(t, http.StatusOK,
		`[{"id":"doc_3","name":"Other organization's memo","organization_id":"org_456"}]`)

	if got := srv.Stats().Artos.TokensIssued; got != 2 {
		t.Errorf("Stats().Artos.TokensIssued = %d, want 2", got)
	}
}

func TestArtosErrors(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	base := srv.URL(apiauthtest.Artos)
	valid := artosToken(t, srv, apiauthtest.ArtosUserID)
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(t, srv, valid)).SignedString([]byte("not the server's key"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		notAuth = `{"detail":"Not authenticated"}`
		invalid = `{"detail":"Invalid authentication credentials"}`
		noOrg   = `{"detail":"User has no organization or not authorized"}`
	)
	tests := []struct {
		name, method, path, body, authz string
		status                          int
		want                            string
	}{
		{"no header", "GET", "/api/v1/documents/", "", "", 401, notAuth},
		{"not bearer", "GET", "/api/v1/templates/", "", "Basic dXNlcjpwYXNz", 401, notAuth},
		{"bearer without token", "GET", "/api/v1/documents/", "", "Bearer ", 401, notAuth},
		{"malformed token", "GET", "/api/v1/documents/", "", "Bearer abc.def", 401, invalid},
		{"forged signature", "GET", "/api/v1/documents/", "", "Bearer " + forged, 401, invalid},
		{"expired", "GET", "/api/v1/documents/", "", "Bearer " + srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute), 401, invalid},
		{"other family's token", "GET", "/api/v1/documents/", "", "Bearer " + srv.MintAudiModalToken(apiauthtest.AudiModalEmail, 0), 401, invalid},
		{"user without org", "GET", "/api/v1/templates/", "", "Bearer " + artosToken(t, srv, apiauthtest.ArtosNoOrgUserID), 403, noOrg},
		{"unknown user", "POST", "/get-access-token", `{"user_id":"nobody"}`, "", 401, invalid},
		{"missing user_id", "POST", "/get-access-token", `{}`, "", 422,
			`{"detail":[{"loc":["body","user_id"],"msg":"field required","type":"value_error.missing"}]}`},
		{"public status", "GET", "/api/v1/search/status", "", "", 200, `{"status":"ok"}`},
		{"unknown path", "GET", "/api/v1/nothing", "", "", 404, `{"detail":"Not Found"}`},
		{"wrong method", "GET", "/get-access-token", "", "", 405, `{"detail":"Method Not Allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.authz != "" {
				h = []string{"Authorization", tt.authz}
			}
			r := do(t, srv, tt.method, base+tt.path, tt.body, h...)
			r.want(t, tt.status, tt.want)
			if tt.status == 401 && tt.path != "/get-access-token" && r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q, want Bearer", r.Header.Get("WWW-Authenticate"))
			}
			if tt.status == 405 && r.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", r.Header.Get("Allow"))
			}
		})
	}
	st := srv.Stats().Artos
	if st.Unauthorized != 8 || st.Forbidden != 1 {
		t.Errorf("Stats().Artos: Unauthorized = %d, Forbidden = %d; want 8 and 1", st.Unauthorized, st.Forbidden)
	}
}

func TestArtosRedirectKeepsPrefix(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	base := srv.URL(apiauthtest.Artos)
	tok := artosToken(t, srv, apiauthtest.ArtosUserID)

	noFollow := *srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := doErr(t.Context(), &noFollow, "GET", base+"/api/v1/documents?limit=5", "", "Authorization", "Bearer "+tok)
	if err != nil {
		t.Fatal(err)
	}
	r.want(t, http.StatusTemporaryRedirect, "")
	if got, want := r.Header.Get("Location"), base+"/api/v1/documents/?limit=5"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	// A client that follows same-origin redirects with its Authorization
	// header ends on the list.
	do(t, srv, "GET", base+"/api/v1/templates", "", "Authorization", "Bearer "+tok).want(t, http.StatusOK, "")
}

func TestArtosTokenTTL(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{ArtosTokenTTL: 90 * time.Second, PlainHTTP: true})
	defer srv.Close()
	c := claims(t, srv, artosToken(t, srv, apiauthtest.ArtosUserID))
	if d := unix(t, c, "exp") - unix(t, c, "iat"); d != 90 {
		t.Errorf("lifetime from Config = %ds, want 90", d)
	}
	srv.SetArtosTokenTTL(1500 * time.Millisecond)
	c = claims(t, srv, artosToken(t, srv, apiauthtest.ArtosUserID))
	if d := unix(t, c, "exp") - unix(t, c, "iat"); d != 2 {
		t.Errorf("lifetime after SetArtosTokenTTL(1.5s) = %ds, want 2 (rounded up)", d)
	}
	// A token that outlives its exp on the server's clock is refused.
	tok := artosToken(t, srv, apiauthtest.ArtosUserID)
	srv.SetClockOffset(3 * time.Second)
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/documents/", "", "Authorization", "Bearer "+tok).
		want(t, http.StatusUnauthorized, `{"detail":"Invalid authentication credentials"}`)
}

func TestArtosAddUserAndMint(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	srv.AddArtosUser("user_new", apiauthtest.ArtosOtherOrgID)
	tok := artosToken(t, srv, "user_new")
	if c := claims(t, srv, tok); c["org_id"] != apiauthtest.ArtosOtherOrgID {
		t.Errorf("org_id = %v", c["org_id"])
	}
	minted := srv.MintArtosToken(apiauthtest.ArtosUserID, time.Minute)
	c := claims(t, srv, minted)
	if d := unix(t, c, "exp") - unix(t, c, "iat"); d != 60 || c["org_id"] != apiauthtest.ArtosOrgID {
		t.Errorf("minted claims = %v", c)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/documents/", "", "Authorization", "Bearer "+minted).want(t, http.StatusOK, "")
	expired := claims(t, srv, srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Hour))
	if exp, now := unix(t, expired, "exp"), srv.Now().Unix(); exp > now-3599 || exp < now-3601 {
		t.Errorf("expired token exp = %d, want about now-1h = %d", exp, now-3600)
	}
	if srv.Stats().Artos.TokensIssued != 1 {
		t.Errorf("minted tokens were counted: %+v", srv.Stats().Artos)
	}
}
