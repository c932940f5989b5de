package apiauthtest_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
)

const (
	amInvalidKey = `{"error":{"code":"INVALID_API_KEY","message":"Invalid or expired API key"}}`
	amForbidden  = `{"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"Insufficient permissions for this operation","required_role":"admin"}}`
	amBadRefresh = `{"error":{"code":"UNAUTHORIZED","message":"Invalid or already used refresh token"}}`
)

func TestAudiModalLogin(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now)})
	defer srv.Close()

	r := do(t, srv, "POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/login",
		`{"email":"user@company.com","password":"secure_password","tenant_id":"tenant_123"}`)
	r.want(t, http.StatusOK, "")
	raw := decode[map[string]any](t, r)
	if len(raw) != 5 {
		t.Errorf("login answer fields = %v, want access_token, refresh_token, token_type, expires_in, user", raw)
	}
	p := decode[tokenPair](t, r)
	if p.TokenType != "Bearer" || p.ExpiresIn != 3600 {
		t.Errorf("token_type = %q, expires_in = %d", p.TokenType, p.ExpiresIn)
	}
	if u := p.User; u.ID != "user_123" || u.Email != "user@company.com" || u.Role != "admin" || u.TenantID != "tenant_123" {
		t.Errorf("user = %+v", u)
	}
	if !strings.Contains(r.Body, `"user":{"id":"user_123","email":"user@company.com","role":"admin","tenant_id":"tenant_123"}`) {
		t.Errorf("user object on the wire = %s", r.Body)
	}
	c := claims(t, srv, p.AccessToken)
	if iat, exp := unix(t, c, "iat"), unix(t, c, "exp"); iat != now.Unix() || exp != now.Unix()+3600 {
		t.Errorf("access iat/exp = %d/%d", iat, exp)
	}
	if c["tenant_id"] != "tenant_123" || c["role"] != "admin" || c["sub"] != "user_123" {
		t.Errorf("access claims = %v", c)
	}
	rc := claims(t, srv, p.RefreshToken)
	if d := unix(t, rc, "exp") - unix(t, rc, "iat"); d != int64(apiauthtest.DefaultAudiModalRefreshTTL/time.Second) {
		t.Errorf("refresh lifetime = %ds", d)
	}
	// The access token works, the refresh token is no access token.
	health := srv.URL(apiauthtest.AudiModal) + "/v1/health"
	do(t, srv, "GET", health, "", bearerH(p.AccessToken)...).want(t, http.StatusOK, "")
	do(t, srv, "GET", health, "", bearerH(p.RefreshToken)...).want(t, http.StatusUnauthorized, amInvalidKey)

	if st := srv.Stats().AudiModal; st.Logins != 1 || st.TokensIssued != 1 {
		t.Errorf("Stats().AudiModal = %+v", st)
	}
}

func TestAudiModalLoginErrors(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	u := srv.URL(apiauthtest.AudiModal) + "/v1/auth/login"
	badLogin := `{"error":{"code":"UNAUTHORIZED","message":"Invalid email, password or tenant"}}`
	do(t, srv, "POST", u, `{"email":"user@company.com","password":"nope","tenant_id":"tenant_123"}`).want(t, 401, badLogin)
	do(t, srv, "POST", u, `{"email":"user@company.com","password":"secure_password","tenant_id":"tenant_456"}`).want(t, 401, badLogin)
	do(t, srv, "POST", u, `{"email":"nobody@company.com","password":"secure_password","tenant_id":"tenant_123"}`).want(t, 401, badLogin)
	do(t, srv, "POST", u, `{"email":"user@company.com"}`).want(t, 400,
		`{"error":{"code":"INVALID_REQUEST","message":"email, password and tenant_id are required"}}`)
	if st := srv.Stats().AudiModal; st.Logins != 0 || st.Unauthorized != 3 {
		t.Errorf("Stats().AudiModal = %+v", st)
	}
	srv.AddAudiModalUser(apiauthtest.AudiModalUser{ID: "user_9", Email: "New@Company.com", Password: "pw", Role: "viewer", TenantID: "tenant_123"})
	p := login(t, srv, "new@company.com", "pw")
	if p.User.ID != "user_9" || p.User.Role != "viewer" {
		t.Errorf("added user logs in as %+v", p.User)
	}
}

func TestAudiModalRefreshTokensAreSingleUse(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	refresh := srv.URL(apiauthtest.AudiModal) + "/v1/auth/refresh"
	first := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword)

	r := do(t, srv, "POST", refresh, `{"refresh_token":"`+first.RefreshToken+`"}`)
	r.want(t, http.StatusOK, "")
	second := decode[tokenPair](t, r)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh must answer a new access token and a new refresh token")
	}
	if second.TokenType != "Bearer" || second.ExpiresIn != 3600 || second.User.ID != apiauthtest.AudiModalUserID {
		t.Errorf("refresh answer = %+v", second)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", "", bearerH(second.AccessToken)...).want(t, http.StatusOK, "")

	// Reuse is refused.
	do(t, srv, "POST", refresh, `{"refresh_token":"`+first.RefreshToken+`"}`).want(t, http.StatusUnauthorized, amBadRefresh)
	// The rotated token works once.
	do(t, srv, "POST", refresh, `{"refresh_token":"`+second.RefreshToken+`"}`).want(t, http.StatusOK, "")
	do(t, srv, "POST", refresh, `{"refresh_token":"`+second.RefreshToken+`"}`).want(t, http.StatusUnauthorized, amBadRefresh)
	// Garbage and access tokens are no refresh tokens.
	do(t, srv, "POST", refresh, `{"refresh_token":"garbage"}`).want(t, http.StatusUnauthorized, amBadRefresh)
	do(t, srv, "POST", refresh, `{"refresh_token":"`+second.AccessToken+`"}`).want(t, http.StatusUnauthorized, amBadRefresh)
	do(t, srv, "POST", refresh, `{}`).want(t, http.StatusBadRequest,
		`{"error":{"code":"INVALID_REQUEST","message":"refresh_token is required"}}`)

	st := srv.Stats().AudiModal
	if st.Logins != 1 || st.Refreshes != 2 || st.RefreshRejections != 4 || st.TokensIssued != 3 {
		t.Errorf("Stats().AudiModal = %+v, want 1 login, 2 refreshes, 4 rejections, 3 tokens", st)
	}
}

func TestAudiModalConcurrentRefreshOneWins(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	p := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r, err := doErr(t.Context(), srv.Client(), "POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`)
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.Status
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == http.StatusOK {
			ok++
		} else if s != http.StatusUnauthorized {
			t.Errorf("status %d", s)
		}
	}
	if st := srv.Stats().AudiModal; ok != 1 || st.Refreshes != 1 || st.RefreshRejections != n-1 {
		t.Errorf("%d refreshes succeeded, stats %+v; want exactly one", ok, st)
	}
}

func TestAudiModalExpiredTokens(t *testing.T) {
	now := time.Date(2024, 1, 1, 11, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now), AudiModalTokenTTL: time.Hour, AudiModalRefreshTTL: 2 * time.Hour})
	defer srv.Close()
	p := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword)
	health := srv.URL(apiauthtest.AudiModal) + "/v1/health"

	srv.SetClockOffset(time.Hour) // exactly at exp: expired
	do(t, srv, "GET", health, "", bearerH(p.AccessToken)...).want(t, http.StatusUnauthorized,
		`{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`)
	minted := srv.MintAudiModalToken(apiauthtest.AudiModalEmail, -time.Minute)
	do(t, srv, "GET", health, "", bearerH(minted)...).want(t, http.StatusUnauthorized,
		`{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T11:59:00Z"}}`)

	srv.SetClockOffset(3 * time.Hour)
	do(t, srv, "POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`).want(t, http.StatusUnauthorized,
		`{"error":{"code":"TOKEN_EXPIRED","message":"Refresh token has expired","expires_at":"2024-01-01T13:00:00Z"}}`)
	if st := srv.Stats().AudiModal; st.RefreshRejections != 1 {
		t.Errorf("Stats().AudiModal.RefreshRejections = %d, want 1", st.RefreshRejections)
	}
	srv.SetAudiModalTokenTTL(10 * time.Second)
	if p := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword); p.ExpiresIn != 10 {
		t.Errorf("expires_in after SetAudiModalTokenTTL(10s) = %d", p.ExpiresIn)
	}
}

func TestAudiModalHealthAndTenants(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now)})
	defer srv.Close()
	base := srv.URL(apiauthtest.AudiModal)
	admin := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword).AccessToken
	member := login(t, srv, apiauthtest.AudiModalMemberEmail, apiauthtest.AudiModalMemberPassword).AccessToken
	healthy := func(tenant string) string {
		return `{"service":"audimodal-api","status":"healthy","tenant_id":"` + tenant + `","timestamp":"2024-01-01T12:00:00Z","version":"1.0.0"}`
	}
	tests := []struct {
		name, authz, tenant, path string
		status                    int
		body                      string
	}{
		{"live key", "Bearer " + apiauthtest.AudiModalLiveKey, "", "/v1/health", 200, healthy("tenant_123")},
		{"test key", "Bearer " + apiauthtest.AudiModalTestKey, "", "/v1/health", 200, healthy("tenant_123")},
		{"tenant key", "Bearer " + apiauthtest.AudiModalTenantKey, "", "/v1/health", 200, healthy("tenant_123")},
		{"admin key, other tenant", "Bearer " + apiauthtest.AudiModalLiveKey, "tenant_456", "/v1/health", 200, healthy("tenant_456")},
		{"test key, other tenant", "Bearer " + apiauthtest.AudiModalTestKey, "tenant_456", "/v1/health", 403, amForbidden},
		{"tenant key, own tenant", "Bearer " + apiauthtest.AudiModalTenantKey, "tenant_123", "/v1/health", 200, healthy("tenant_123")},
		{"tenant key, other tenant", "Bearer " + apiauthtest.AudiModalTenantKey, "tenant_456", "/v1/files", 403, amForbidden},
		{"admin JWT, other tenant", "Bearer " + admin, "tenant_456", "/v1/health", 200, healthy("tenant_456")},
		{"member JWT, other tenant", "Bearer " + member, "tenant_456", "/v1/health", 403, amForbidden},
		{"no credential", "", "", "/v1/health", 401, amInvalidKey},
		{"unknown key", "Bearer sk_live_unknown", "", "/v1/health", 401, amInvalidKey},
		{"forged JWT", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "", "/v1/files", 401, amInvalidKey},
		{"files", "Bearer " + apiauthtest.AudiModalTenantKey, "", "/v1/files", 200,
			`{"data":[{"id":"file_1","name":"interview.mp3","tenant_id":"tenant_123"},{"id":"file_2","name":"meeting.mp4","tenant_id":"tenant_123"}],"tenant_id":"tenant_123"}`},
		{"files of another tenant", "Bearer " + apiauthtest.AudiModalLiveKey, "tenant_456", "/v1/files", 200,
			`{"data":[{"id":"file_3","name":"podcast.wav","tenant_id":"tenant_456"}],"tenant_id":"tenant_456"}`},
		{"tenants, admin", "Bearer " + apiauthtest.AudiModalLiveKey, "", "/v1/tenants", 200, `{"data":[{"id":"tenant_123"},{"id":"tenant_456"}]}`},
		{"tenants, not admin", "Bearer " + apiauthtest.AudiModalTestKey, "", "/v1/tenants", 403, amForbidden},
		{"unknown path", "", "", "/v1/nothing", 404, `{"error":{"code":"NOT_FOUND","message":"Not Found"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.authz != "" {
				h = append(h, "Authorization", tt.authz)
			}
			if tt.tenant != "" {
				h = append(h, "X-Tenant-ID", tt.tenant)
			}
			r := do(t, srv, "GET", base+tt.path, "", h...)
			r.want(t, tt.status, tt.body)
			for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				if r.Header.Get(name) == "" {
					t.Errorf("%s missing", name)
				}
			}
		})
	}
	srv.AddAudiModalKey("sk_live_other_admin", "tenant_789", true)
	do(t, srv, "GET", base+"/v1/health", "", bearerH("sk_live_other_admin")...).want(t, http.StatusOK, healthy("tenant_789"))
}

func TestAudiModalIPAllowlist(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	u := srv.URL(apiauthtest.AudiModal) + "/v1/auth/ip-allowlist"
	admin := bearerH(apiauthtest.AudiModalLiveKey)
	do(t, srv, "POST", u, `{"allowed_ips":["192.168.1.0/24","10.0.0.100","2001:db8::1/32"]}`, admin...).want(t, http.StatusOK,
		`{"tenant_id":"tenant_123","allowed_ips":["192.168.1.0/24","10.0.0.100","2001:db8::/32"]}`)
	if got := strings.Join(srv.AudiModalIPAllowlist(apiauthtest.AudiModalTenantID), " "); got != "192.168.1.0/24 10.0.0.100 2001:db8::/32" {
		t.Errorf("AudiModalIPAllowlist = %q", got)
	}
	for _, bad := range []string{`"300.1.1.1"`, `"10.0.0.0/33"`, `"example.com"`, `""`} {
		do(t, srv, "POST", u, `{"allowed_ips":[`+bad+`]}`, admin...).want(t, http.StatusBadRequest, "")
	}
	do(t, srv, "POST", u, `{}`, admin...).want(t, http.StatusBadRequest, `{"error":{"code":"INVALID_REQUEST","message":"allowed_ips is required"}}`)
	do(t, srv, "POST", u, `{"allowed_ips":["10.0.0.1"]}`, bearerH(apiauthtest.AudiModalTestKey)...).want(t, http.StatusForbidden, amForbidden)
	do(t, srv, "POST", u, `{"allowed_ips":["10.0.0.1"]}`).want(t, http.StatusUnauthorized, amInvalidKey)
	if got := len(srv.AudiModalIPAllowlist(apiauthtest.AudiModalTenantID)); got != 3 {
		t.Errorf("a refused update changed the list: %d entries", got)
	}
}

func TestAudiModalRateLimit(t *testing.T) {
	// 12:00:30: the one-minute window ends at 12:01:00 = 1704110460.
	now := time.Date(2024, 1, 1, 12, 0, 30, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now), AudiModalRateLimit: apiauthtest.RateLimit{Limit: 3}})
	defer srv.Close()
	health := srv.URL(apiauthtest.AudiModal) + "/v1/health"
	key := bearerH(apiauthtest.AudiModalLiveKey)
	check := func(r result, limit, remaining, reset string) {
		t.Helper()
		if got := [3]string{r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"), r.Header.Get("X-RateLimit-Reset")}; got != [3]string{limit, remaining, reset} {
			t.Errorf("X-RateLimit-Limit/Remaining/Reset = %v, want [%s %s %s]", got, limit, remaining, reset)
		}
	}
	for i := range 3 {
		r := do(t, srv, "GET", health, "", key...)
		r.want(t, http.StatusOK, "")
		check(r, "3", strconv.Itoa(2-i), "1704110460")
	}
	r := do(t, srv, "GET", health, "", key...)
	r.want(t, http.StatusTooManyRequests, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":30}}`)
	check(r, "3", "0", "1704110460")
	if r.Header.Get("Retry-After") != "" {
		t.Errorf("AudiModal documents retry_after in the body only; got Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Per key: another key has its own budget.
	check(do(t, srv, "GET", health, "", bearerH(apiauthtest.AudiModalTestKey)...), "3", "2", "1704110460")
	// A logged-in user counts per user, across its tokens.
	p := login(t, srv, apiauthtest.AudiModalMemberEmail, apiauthtest.AudiModalMemberPassword)
	check(do(t, srv, "GET", health, "", bearerH(p.AccessToken)...), "3", "2", "1704110460")
	check(do(t, srv, "GET", health, "", bearerH(srv.MintAudiModalToken(apiauthtest.AudiModalMemberEmail, 0))...), "3", "1", "1704110460")

	// Next window.
	srv.SetClockOffset(30 * time.Second)
	r = do(t, srv, "GET", health, "", key...)
	r.want(t, http.StatusOK, "")
	check(r, "3", "2", "1704110520")
	if got := srv.Stats().AudiModal.RateLimited; got != 1 {
		t.Errorf("Stats().AudiModal.RateLimited = %d, want 1", got)
	}

	// A new window length and limit apply at once.
	srv.SetAudiModalRateLimit(apiauthtest.RateLimit{Limit: 5, Window: time.Hour})
	check(do(t, srv, "GET", health, "", key...), "5", "4", "1704114000") // 13:00:00
}

func TestAudiModalDefaultRateLimit(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	r := do(t, srv, "GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", "", bearerH(apiauthtest.AudiModalLiveKey)...)
	if r.Header.Get("X-RateLimit-Limit") != "1000" || r.Header.Get("X-RateLimit-Remaining") != "999" {
		t.Errorf("default limit headers = %v", r.Header)
	}
	reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if now := srv.Now().Unix(); err != nil || reset <= now || reset > now+60 {
		t.Errorf("X-RateLimit-Reset = %q, want epoch seconds within the next minute of %d", r.Header.Get("X-RateLimit-Reset"), now)
	}
}
