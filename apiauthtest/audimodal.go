package apiauthtest

import (
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Seeded AudiModal credentials, all in tenant AudiModalTenantID.
const (
	// AudiModalLiveKey is a production admin key: it may send X-Tenant-ID
	// for any tenant and call the admin-only endpoints.
	AudiModalLiveKey = "sk_live_fake_admin_0001"
	// AudiModalTestKey is a development key without admin rights.
	AudiModalTestKey = "sk_test_fake_dev_0001"
	// AudiModalTenantKey is a tenant-scoped key without admin rights.
	AudiModalTenantKey = "tk_tenant_123_fake0001"

	AudiModalTenantID      = "tenant_123"
	AudiModalOtherTenantID = "tenant_456"

	// AudiModalEmail and AudiModalPassword log in user AudiModalUserID,
	// role "admin", in tenant AudiModalTenantID.
	AudiModalEmail    = "user@company.com"
	AudiModalPassword = "secure_password"
	AudiModalUserID   = "user_123"

	// AudiModalMemberEmail and AudiModalMemberPassword log in user
	// AudiModalMemberUserID, role "member", in tenant AudiModalTenantID.
	AudiModalMemberEmail    = "member@company.com"
	AudiModalMemberPassword = "member_password"
	AudiModalMemberUserID   = "user_789"
)

// AudiModalUser is a user that can log in with POST /v1/auth/login. Role
// "admin" may send X-Tenant-ID and call the admin-only endpoints.
type AudiModalUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Password string `json:"-"`
	Role     string `json:"role"`
	TenantID string `json:"tenant_id"`
}

// AudiModalFile is one entry of GET /v1/files.
type AudiModalFile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TenantID string `json:"tenant_id"`
}

type amKey struct {
	tenant string
	admin  bool
}

type audimodal struct {
	s       *Server
	limiter *limiter

	mu        sync.RWMutex
	keys      map[string]amKey
	users     map[string]AudiModalUser // by lower-case email
	refresh   map[string]bool          // jti of refresh tokens not used yet
	files     map[string][]AudiModalFile
	allowlist map[string][]string // tenant -> allowed IPs and prefixes
}

func newAudiModal(s *Server, rl RateLimit) *audimodal {
	a := &audimodal{
		s:       s,
		limiter: newLimiter(rl, 0),
		keys: map[string]amKey{
			AudiModalLiveKey:   {tenant: AudiModalTenantID, admin: true},
			AudiModalTestKey:   {tenant: AudiModalTenantID},
			AudiModalTenantKey: {tenant: AudiModalTenantID},
		},
		users:   make(map[string]AudiModalUser),
		refresh: make(map[string]bool),
		files: map[string][]AudiModalFile{
			AudiModalTenantID: {
				{ID: "file_1", Name: "interview.mp3", TenantID: AudiModalTenantID},
				{ID: "file_2", Name: "meeting.mp4", TenantID: AudiModalTenantID},
			},
			AudiModalOtherTenantID: {{ID: "file_3", Name: "podcast.wav", TenantID: AudiModalOtherTenantID}},
		},
		allowlist: make(map[string][]string),
	}
	for _, u := range []AudiModalUser{
		{ID: AudiModalUserID, Email: AudiModalEmail, Password: AudiModalPassword, Role: "admin", TenantID: AudiModalTenantID},
		{ID: AudiModalMemberUserID, Email: AudiModalMemberEmail, Password: AudiModalMemberPassword, Role: "member", TenantID: AudiModalTenantID},
	} {
		a.users[strings.ToLower(u.Email)] = u
	}
	return a
}

// AddAudiModalKey adds (or replaces) an API key of tenant tenantID. An
// admin key may send X-Tenant-ID and call the admin-only endpoints.
func (s *Server) AddAudiModalKey(key, tenantID string, admin bool) {
	a := s.audimodal
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[key] = amKey{tenant: tenantID, admin: admin}
}

// AddAudiModalUser adds (or replaces, by email) a user that can log in.
func (s *Server) AddAudiModalUser(u AudiModalUser) {
	a := s.audimodal
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[strings.ToLower(u.Email)] = u
}

// AudiModalIPAllowlist returns the allowlist last set for tenantID with
// POST /v1/auth/ip-allowlist, normalized, or nil. The fake records the
// list but does not enforce it.
func (s *Server) AudiModalIPAllowlist(tenantID string) []string {
	a := s.audimodal
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Clone(a.allowlist[tenantID])
}

// MintAudiModalToken returns an AudiModal access token for the user with
// the given email, signed with the server's key, with lifetime ttl from
// the server's now: zero means the configured access-token lifetime, and a
// negative ttl gives a token that expired -ttl ago. An unknown email gets a
// token without role or tenant. Minted tokens are not counted in [Stats].
func (s *Server) MintAudiModalToken(email string, ttl time.Duration) string {
	if ttl == 0 {
		ttl = time.Duration(s.amTTL.Load())
	}
	a := s.audimodal
	a.mu.RLock()
	u, ok := a.users[strings.ToLower(email)]
	a.mu.RUnlock()
	if !ok {
		u = AudiModalUser{Email: email}
	}
	tok, _, _ := s.sign(AudiModal, typAccess, ttl, accessClaims(u))
	return tok
}

// accessClaims are an access token's claims besides iss, typ, iat, exp and
// jti.
func accessClaims(u AudiModalUser) jwt.MapClaims {
	return jwt.MapClaims{"sub": u.ID, "email": u.Email, "role": u.Role, "tenant_id": u.TenantID}
}

func (a *audimodal) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/auth/login", a.public(a.login))
	mux.HandleFunc("POST /v1/auth/refresh", a.public(a.refreshToken))
	mux.HandleFunc("GET /v1/health", a.protected(a.health))
	mux.HandleFunc("GET /v1/files", a.protected(a.listFiles))
	mux.HandleFunc("GET /v1/tenants", a.protected(a.adminOnly(a.listTenants)))
	mux.HandleFunc("POST /v1/auth/ip-allowlist", a.protected(a.adminOnly(a.setAllowlist)))
}

func (a *audimodal) writeStatus(w http.ResponseWriter, status int) {
	writeStatusAPIError(w, status)
}

func (a *audimodal) routeError(w http.ResponseWriter, r *http.Request, status int) {
	a.public(func(w http.ResponseWriter, _ *http.Request) { a.writeStatus(w, status) })(w, r)
}

// The error bodies. Codes are the documented ones, plus UNAUTHORIZED (bad
// login, unknown or reused refresh token) and INVALID_REQUEST (bad body).
var (
	errAMInvalidKey   = apiError{Code: "INVALID_API_KEY", Message: "Invalid or expired API key"}
	errAMForbidden    = apiError{Code: "INSUFFICIENT_PERMISSIONS", Message: "Insufficient permissions for this operation", RequiredRole: "admin"}
	errAMBadLogin     = apiError{Code: "UNAUTHORIZED", Message: "Invalid email, password or tenant"}
	errAMBadRefresh   = apiError{Code: "UNAUTHORIZED", Message: "Invalid or already used refresh token"}
	errAMRateLimited  = apiError{Code: "RATE_LIMIT_EXCEEDED", Message: "API rate limit exceeded"}
	errAMTokenExpired = apiError{Code: "TOKEN_EXPIRED", Message: "Access token has expired"}
)

// amCaller is an authenticated caller and the tenant the request acts on.
type amCaller struct {
	principal string // rate-limit bucket: the key, or the user
	tenant    string
	admin     bool
}

// authenticate reads the bearer credential: an API key, or an access JWT
// (three dot-separated parts). When the caller is nil, the apiError says why.
func (a *audimodal) authenticate(r *http.Request) (*amCaller, apiError) {
	tok, ok := bearer(r)
	if !ok {
		return nil, errAMInvalidKey
	}
	if strings.Count(tok, ".") == 2 {
		claims, exp, err := a.s.verify(tok, AudiModal, typAccess)
		switch err {
		case nil:
			return &amCaller{
				principal: "user:" + claimString(claims, "sub"),
				tenant:    claimString(claims, "tenant_id"),
				admin:     claimString(claims, "role") == "admin",
			}, apiError{}
		case errTokenExpired:
			e := errAMTokenExpired
			e.ExpiresAt = rfc3339(exp)
			return nil, e
		default:
			return nil, errAMInvalidKey
		}
	}
	a.mu.RLock()
	k, ok := a.keys[tok]
	a.mu.RUnlock()
	if !ok {
		return nil, errAMInvalidKey
	}
	return &amCaller{principal: "key:" + tok, tenant: k.tenant, admin: k.admin}, apiError{}
}

// limit counts the request, sets the X-RateLimit-* headers, and answers 429
// (reporting false) when the principal is over its limit.
func (a *audimodal) limit(w http.ResponseWriter, principal string, anonymous bool) bool {
	now := a.s.Now()
	d := a.limiter.take(principal, anonymous, now)
	d.setHeaders(w.Header())
	if !d.allowed {
		e := errAMRateLimited
		e.RetryAfter = d.retryAfter(now)
		writeAPIError(w, http.StatusTooManyRequests, e)
	}
	return d.allowed
}

// public wraps an endpoint that needs no credential: it is rate limited per
// client IP.
func (a *audimodal) public(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.limit(w, clientIP(r), true) {
			next(w, r)
		}
	}
}

// protected wraps an endpoint that needs a credential: it authenticates,
// rate limits per key or user (per client IP when authentication failed),
// and applies the X-Tenant-ID override, which only admins may use for
// another tenant.
func (a *audimodal) protected(next func(http.ResponseWriter, *http.Request, *amCaller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, authErr := a.authenticate(r)
		principal := clientIP(r)
		if c != nil {
			principal = c.principal
		}
		if !a.limit(w, principal, c == nil) {
			return
		}
		if c == nil {
			writeAPIError(w, http.StatusUnauthorized, authErr)
			return
		}
		if t := r.Header.Get("X-Tenant-ID"); t != "" && t != c.tenant {
			if !c.admin {
				writeAPIError(w, http.StatusForbidden, errAMForbidden)
				return
			}
			c.tenant = t
		}
		next(w, r, c)
	}
}

// adminOnly answers 403 INSUFFICIENT_PERMISSIONS to non-admin callers.
func (a *audimodal) adminOnly(next func(http.ResponseWriter, *http.Request, *amCaller)) func(http.ResponseWriter, *http.Request, *amCaller) {
	return func(w http.ResponseWriter, r *http.Request, c *amCaller) {
		if !c.admin {
			writeAPIError(w, http.StatusForbidden, errAMForbidden)
			return
		}
		next(w, r, c)
	}
}

// tokenResponse is the answer to login and refresh.
type tokenResponse struct {
	AccessToken  string        `json:"access_token"`
	RefreshToken string        `json:"refresh_token"`
	TokenType    string        `json:"token_type"`
	ExpiresIn    int64         `json:"expires_in"`
	User         AudiModalUser `json:"user"`
}

// issue mints an access token and a single-use refresh token for u.
func (a *audimodal) issue(u AudiModalUser) tokenResponse {
	access, iat, exp := a.s.sign(AudiModal, typAccess, time.Duration(a.s.amTTL.Load()), accessClaims(u))
	jti := randomHex(12)
	refresh, _, _ := a.s.sign(AudiModal, typRefresh, time.Duration(a.s.amRefTTL.Load()),
		jwt.MapClaims{"sub": u.ID, "email": u.Email, "tenant_id": u.TenantID, "jti": jti})
	a.mu.Lock()
	a.refresh[jti] = true
	a.mu.Unlock()
	a.s.stats[AudiModal].tokensIssued.Add(1)
	return tokenResponse{
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "Bearer",
		ExpiresIn:    int64(exp.Sub(iat) / time.Second),
		User:         u,
	}
}

func badRequest(w http.ResponseWriter, msg string) {
	writeAPIError(w, http.StatusBadRequest, apiError{Code: "INVALID_REQUEST", Message: msg})
}

// login serves POST /v1/auth/login {"email","password","tenant_id"}.
func (a *audimodal) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		TenantID string `json:"tenant_id"`
	}
	if err := decodeJSON(r, &body); err != nil || body.Email == "" || body.Password == "" || body.TenantID == "" {
		badRequest(w, "email, password and tenant_id are required")
		return
	}
	a.mu.RLock()
	u, ok := a.users[strings.ToLower(body.Email)]
	a.mu.RUnlock()
	if !ok || u.Password != body.Password || u.TenantID != body.TenantID {
		writeAPIError(w, http.StatusUnauthorized, errAMBadLogin)
		return
	}
	a.s.stats[AudiModal].logins.Add(1)
	writeJSON(w, http.StatusOK, a.issue(u))
}

// refreshToken serves POST /v1/auth/refresh {"refresh_token"}. Each refresh
// token works once: the answer carries a new one.
func (a *audimodal) refreshToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(r, &body); err != nil || body.RefreshToken == "" {
		badRequest(w, "refresh_token is required")
		return
	}
	st := a.s.stats[AudiModal]
	claims, exp, err := a.s.verify(body.RefreshToken, AudiModal, typRefresh)
	if err == errTokenExpired {
		st.refreshRejections.Add(1)
		e := errAMTokenExpired
		e.Message = "Refresh token has expired"
		e.ExpiresAt = rfc3339(exp)
		writeAPIError(w, http.StatusUnauthorized, e)
		return
	}
	var u AudiModalUser
	ok := false
	if err == nil {
		jti := claimString(claims, "jti")
		a.mu.Lock()
		unused := a.refresh[jti]
		delete(a.refresh, jti)
		var known bool
		u, known = a.users[strings.ToLower(claimString(claims, "email"))]
		a.mu.Unlock()
		ok = unused && known
	}
	if !ok {
		st.refreshRejections.Add(1)
		writeAPIError(w, http.StatusUnauthorized, errAMBadRefresh)
		return
	}
	st.refreshes.Add(1)
	writeJSON(w, http.StatusOK, a.issue(u))
}

// health serves GET /v1/health, echoing the tenant the request acts on.
func (a *audimodal) health(w http.ResponseWriter, _ *http.Request, c *amCaller) {
	writeJSON(w, http.StatusOK, map[string]string{
		"status":    "healthy",
		"service":   "audimodal-api",
		"version":   "1.0.0",
		"tenant_id": c.tenant,
		"timestamp": rfc3339(a.s.Now()),
	})
}

// listFiles serves GET /v1/files: the tenant's files.
func (a *audimodal) listFiles(w http.ResponseWriter, _ *http.Request, c *amCaller) {
	a.mu.RLock()
	files := append([]AudiModalFile{}, a.files[c.tenant]...)
	a.mu.RUnlock()
	writeJSON(w, http.StatusOK, struct {
		Data     []AudiModalFile `json:"data"`
		TenantID string          `json:"tenant_id"`
	}{files, c.tenant})
}

// listTenants serves GET /v1/tenants (admin only): every tenant the fake
// knows of.
func (a *audimodal) listTenants(w http.ResponseWriter, _ *http.Request, _ *amCaller) {
	seen := map[string]bool{}
	a.mu.RLock()
	for _, k := range a.keys {
		seen[k.tenant] = true
	}
	for _, u := range a.users {
		seen[u.TenantID] = true
	}
	for t := range a.files {
		seen[t] = true
	}
	a.mu.RUnlock()
	type tenant struct {
		ID string `json:"id"`
	}
	list := []tenant{}
	for _, t := range slices.Sorted(maps.Keys(seen)) {
		list = append(list, tenant{t})
	}
	writeJSON(w, http.StatusOK, map[string][]tenant{"data": list})
}

// setAllowlist serves POST /v1/auth/ip-allowlist {"allowed_ips":[…]}
// (admin only): every entry must be an IP address or a CIDR prefix.
func (a *audimodal) setAllowlist(w http.ResponseWriter, r *http.Request, c *amCaller) {
	var body struct {
		AllowedIPs []string `json:"allowed_ips"`
	}
	if err := decodeJSON(r, &body); err != nil || body.AllowedIPs == nil {
		badRequest(w, "allowed_ips is required")
		return
	}
	list := make([]string, 0, len(body.AllowedIPs))
	for _, s := range body.AllowedIPs {
		var norm string
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				badRequest(w, "allowed_ips: not an IP address or CIDR: "+s)
				return
			}
			norm = p.Masked().String()
		} else {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				badRequest(w, "allowed_ips: not an IP address or CIDR: "+s)
				return
			}
			norm = ip.String()
		}
		list = append(list, norm)
	}
	a.mu.Lock()
	a.allowlist[c.tenant] = list
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		TenantID   string   `json:"tenant_id"`
		AllowedIPs []string `json:"allowed_ips"`
	}{c.tenant, list})
}
