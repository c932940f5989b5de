package apiauthtest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
)

const (
	voltUnauthorized = `{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing authentication token"}}`
	voltForbidden    = `{"error":{"code":"FORBIDDEN","message":"Insufficient permissions for this resource"}}`
)

func bearerH(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestVoltasisMeAndOrganizationOverride(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	me := srv.URL(apiauthtest.Voltasis) + "/v1/auth/me"

	do(t, srv, "GET", me, "", bearerH(apiauthtest.VoltasisAPIKey)...).want(t, http.StatusOK,
		`{"data":{"id":"usr_123456789","email":"your.email@example.com","organization":{"id":"org_123456789","name":"Your Organization"}}}`)

	tests := []struct {
		name, key, org string
		status         int
		body           string
	}{
		{"no key", "", "", 401, voltUnauthorized},
		{"unknown key", "vk_nope", "", 401, voltUnauthorized},
		{"own org named", apiauthtest.VoltasisAPIKey, apiauthtest.VoltasisOrgID, 200, ""},
		{"override without permission", apiauthtest.VoltasisAPIKey, apiauthtest.VoltasisOtherOrgID, 403, voltForbidden},
		{"override with permission", apiauthtest.VoltasisAdminKey, apiauthtest.VoltasisOtherOrgID, 200,
			`{"data":{"id":"usr_admin_0001","email":"admin@example.com","organization":{"id":"org_987654321","name":"Other Organization"}}}`},
		{"override to unknown org", apiauthtest.VoltasisAdminKey, "org_000", 403, voltForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.key != "" {
				h = bearerH(tt.key)
			}
			if tt.org != "" {
				h = append(h, "X-Organization-ID", tt.org)
			}
			do(t, srv, "GET", me, "", h...).want(t, tt.status, tt.body)
		})
	}
}

func TestVoltasisUsersScope(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	users := srv.URL(apiauthtest.Voltasis) + "/v1/users"
	do(t, srv, "GET", users, "", bearerH(apiauthtest.VoltasisAPIKey)...).want(t, http.StatusOK,
		`{"data":[{"id":"usr_123456789","email":"your.email@example.com"},{"id":"usr_admin_0001","email":"admin@example.com"}]}`)
	do(t, srv, "GET", users, "", append(bearerH(apiauthtest.VoltasisAdminKey), "X-Organization-ID", apiauthtest.VoltasisOtherOrgID)...).
		want(t, http.StatusOK, `{"data":[{"id":"usr_987654321","email":"other@example.com"}]}`)

	id := srv.AddVoltasisKey(apiauthtest.VoltasisKey{Secret: "vk_noscope", UserID: "usr_x", Email: "x@example.com", OrgID: apiauthtest.VoltasisOrgID})
	if !strings.HasPrefix(id, "key_") {
		t.Errorf("generated ID = %q", id)
	}
	do(t, srv, "GET", users, "", bearerH("vk_noscope")...).want(t, http.StatusForbidden, voltForbidden)
	do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/auth/me", "", bearerH("vk_noscope")...).want(t, http.StatusOK,
		`{"data":{"id":"usr_x","email":"x@example.com","organization":{"id":"org_123456789","name":"Your Organization"}}}`)
}

type voltKey struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt string   `json:"created_at"`
	ExpiresAt *string  `json:"expires_at"`
	Key       string   `json:"key"`
}

func TestVoltasisKeyLifecycle(t *testing.T) {
	now := time.Date(2024, 6, 13, 9, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now)})
	defer srv.Close()
	keys := srv.URL(apiauthtest.Voltasis) + "/api/v1/api-keys"
	member := bearerH(apiauthtest.VoltasisAPIKey)

	r := do(t, srv, "POST", keys, `{"name":"CI/CD Pipeline Key","scopes":["read:users","write:time-entries"],"expires_at":"2024-12-31T23:59:59Z"}`, member...)
	r.want(t, http.StatusCreated, "")
	created := decode[struct{ Data voltKey }](t, r).Data
	if !strings.HasPrefix(created.Key, "vk_") || created.Name != "CI/CD Pipeline Key" ||
		strings.Join(created.Scopes, ",") != "read:users,write:time-entries" ||
		created.ExpiresAt == nil || *created.ExpiresAt != "2024-12-31T23:59:59Z" || created.CreatedAt != "2024-06-13T09:00:00Z" {
		t.Fatalf("created = %+v", created)
	}
	newKey := bearerH(created.Key)
	do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/auth/me", "", newKey...).want(t, http.StatusOK, "")

	r = do(t, srv, "GET", keys, "", member...)
	r.want(t, http.StatusOK, "")
	if strings.Contains(r.Body, created.Key) || strings.Contains(r.Body, apiauthtest.VoltasisAPIKey) || strings.Contains(r.Body, `"key"`) {
		t.Errorf("listing shows a secret: %s", r.Body)
	}
	var ids []string
	for _, k := range decode[struct{ Data []voltKey }](t, r).Data {
		ids = append(ids, k.ID)
	}
	if got, want := strings.Join(ids, ","), apiauthtest.VoltasisAPIKeyID+","+apiauthtest.VoltasisAdminKeyID+","+created.ID; got != want {
		t.Errorf("listed IDs = %s, want %s (the organization's keys, oldest first)", got, want)
	}

	do(t, srv, "DELETE", keys+"/"+created.ID, "", member...).want(t, http.StatusNoContent, "")
	do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/auth/me", "", newKey...).want(t, http.StatusUnauthorized, voltUnauthorized)
	do(t, srv, "DELETE", keys+"/"+created.ID, "", member...).want(t, http.StatusNotFound, `{"error":{"code":"NOT_FOUND","message":"API key not found"}}`)
	// Another organization's key cannot be revoked.
	do(t, srv, "DELETE", keys+"/"+apiauthtest.VoltasisOtherOrgKeyID, "", member...).want(t, http.StatusNotFound, "")
	if !strings.Contains(do(t, srv, "GET", keys, "", member...).Body, apiauthtest.VoltasisAdminKeyID) ||
		strings.Contains(do(t, srv, "GET", keys, "", member...).Body, created.ID) {
		t.Error("listing after revocation should hold the active keys only")
	}
	if st := srv.Stats().Voltasis; st.TokensIssued != 1 || st.Unauthorized != 1 {
		t.Errorf("Stats().Voltasis = %+v, want 1 key issued and 1 401", st)
	}
}

func TestVoltasisKeyCreationErrors(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	keys := srv.URL(apiauthtest.Voltasis) + "/api/v1/api-keys"
	member := bearerH(apiauthtest.VoltasisAPIKey)
	do(t, srv, "POST", keys, `{"name":"escalate","scopes":["admin:organizations"]}`, member...).want(t, http.StatusForbidden, voltForbidden)
	do(t, srv, "POST", keys, `{"scopes":[]}`, member...).want(t, http.StatusBadRequest,
		`{"error":{"code":"VALIDATION_ERROR","message":"name is required"}}`)
	do(t, srv, "POST", keys, `{"name":"old","expires_at":"2001-01-01T00:00:00Z"}`, member...).want(t, http.StatusBadRequest, "")
	do(t, srv, "POST", keys, `{"name":"bad","expires_at":"tomorrow"}`, member...).want(t, http.StatusBadRequest, "")
	do(t, srv, "POST", keys, `not json`, member...).want(t, http.StatusBadRequest, "")
	// The admin key may hand its override scope on.
	r := do(t, srv, "POST", keys, `{"name":"ops","scopes":["admin:organizations"]}`, bearerH(apiauthtest.VoltasisAdminKey)...)
	r.want(t, http.StatusCreated, "")
	if k := decode[struct{ Data voltKey }](t, r).Data; k.ExpiresAt != nil || len(k.Scopes) != 1 {
		t.Errorf("created = %+v, want no expiry and one scope", k)
	}
}

func TestVoltasisKeyExpiresOnServerClock(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	exp := srv.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := do(t, srv, "POST", srv.URL(apiauthtest.Voltasis)+"/api/v1/api-keys", `{"name":"short","expires_at":"`+exp+`"}`, bearerH(apiauthtest.VoltasisAPIKey)...)
	key := decode[struct{ Data voltKey }](t, r).Data.Key
	me := srv.URL(apiauthtest.Voltasis) + "/v1/auth/me"
	do(t, srv, "GET", me, "", bearerH(key)...).want(t, http.StatusOK, "")
	srv.SetClockOffset(2 * time.Hour)
	do(t, srv, "GET", me, "", bearerH(key)...).want(t, http.StatusUnauthorized, voltUnauthorized)
	do(t, srv, "GET", me, "", bearerH(apiauthtest.VoltasisAPIKey)...).want(t, http.StatusOK, "")
}

func TestVoltasisRateLimits(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{
		Now:               fixedClock(time.Date(2024, 6, 13, 9, 0, 45, 0, time.UTC)),
		VoltasisRateLimit: apiauthtest.RateLimit{Limit: 3, Anonymous: 2},
	})
	defer srv.Close()
	me := srv.URL(apiauthtest.Voltasis) + "/v1/auth/me"
	key := bearerH(apiauthtest.VoltasisAPIKey)
	for i := range 3 {
		r := do(t, srv, "GET", me, "", key...)
		r.want(t, http.StatusOK, "")
		if i == 0 && (r.Header.Get("X-RateLimit-Limit") != "" || r.Header.Get("Retry-After") != "") {
			t.Errorf("Voltasis documents no limit headers, got %v", r.Header)
		}
	}
	r := do(t, srv, "GET", me, "", key...)
	r.want(t, http.StatusTooManyRequests, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests"}}`)
	if got := r.Header.Get("Retry-After"); got != "15" {
		t.Errorf("Retry-After = %q, want 15 (seconds to the end of the minute)", got)
	}
	// Limits are per key.
	do(t, srv, "GET", me, "", bearerH(apiauthtest.VoltasisAdminKey)...).want(t, http.StatusOK, "")
	// Without auth: the lower limit, per client.
	do(t, srv, "GET", me, "").want(t, http.StatusUnauthorized, "")
	do(t, srv, "GET", me, "").want(t, http.StatusUnauthorized, "")
	do(t, srv, "GET", me, "").want(t, http.StatusTooManyRequests, "")
	// The next window starts afresh.
	srv.SetClockOffset(time.Minute)
	do(t, srv, "GET", me, "", key...).want(t, http.StatusOK, "")
	if got := srv.Stats().Voltasis.RateLimited; got != 2 {
		t.Errorf("Stats().Voltasis.RateLimited = %d, want 2", got)
	}
	// A raised limit applies at once.
	srv.SetVoltasisRateLimit(apiauthtest.RateLimit{Limit: 10})
	for range 3 {
		do(t, srv, "GET", me, "", key...).want(t, http.StatusOK, "")
	}
}

func TestVoltasisDefaultAnonymousLimitIs100(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(time.Date(2024, 6, 13, 9, 0, 0, 0, time.UTC))})
	defer srv.Close()
	me := srv.URL(apiauthtest.Voltasis) + "/v1/auth/me"
	for i := range 100 {
		if r := do(t, srv, "GET", me, ""); r.Status != http.StatusUnauthorized {
			t.Fatalf("anonymous request %d: status %d", i+1, r.Status)
		}
	}
	r := do(t, srv, "GET", me, "")
	r.want(t, http.StatusTooManyRequests, "")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra != 60 {
		t.Errorf("Retry-After = %q, want 60", r.Header.Get("Retry-After"))
	}
	do(t, srv, "GET", me, "", bearerH(apiauthtest.VoltasisAPIKey)...).want(t, http.StatusOK, "")
}

func TestVoltasisRouteErrors(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/nothing", "", bearerH(apiauthtest.VoltasisAPIKey)...).
		want(t, http.StatusNotFound, `{"error":{"code":"NOT_FOUND","message":"Not Found"}}`)
	do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/nothing", "").want(t, http.StatusUnauthorized, voltUnauthorized)
	r := do(t, srv, "PUT", srv.URL(apiauthtest.Voltasis)+"/api/v1/api-keys", "{}", bearerH(apiauthtest.VoltasisAPIKey)...)
	r.want(t, http.StatusMethodNotAllowed, `{"error":{"code":"METHOD_NOT_ALLOWED","message":"Method Not Allowed"}}`)
	if r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", r.Header.Get("Allow"))
	}
}
