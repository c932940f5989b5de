package apiauthtest

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Seeded Voltasis credentials. VoltasisAPIKey and VoltasisAdminKey belong to
// organization VoltasisOrgID; VoltasisOtherOrgKey to VoltasisOtherOrgID.
// Only VoltasisAdminKey carries [VoltasisOverrideScope], so only it may send
// X-Organization-ID for another organization.
const (
	VoltasisAPIKey   = "vk_fake_member_0001"
	VoltasisAPIKeyID = "key_member_0001"
	VoltasisUserID   = "usr_123456789"
	VoltasisEmail    = "your.email@example.com"
	VoltasisOrgID    = "org_123456789"
	VoltasisOrgName  = "Your Organization"

	VoltasisAdminKey    = "vk_fake_admin_0001"
	VoltasisAdminKeyID  = "key_admin_0001"
	VoltasisAdminUserID = "usr_admin_0001"
	VoltasisAdminEmail  = "admin@example.com"

	VoltasisOtherOrgKey    = "vk_fake_other_0001"
	VoltasisOtherOrgKeyID  = "key_other_0001"
	VoltasisOtherOrgUserID = "usr_987654321"
	VoltasisOtherOrgEmail  = "other@example.com"
	VoltasisOtherOrgID     = "org_987654321"
	VoltasisOtherOrgName   = "Other Organization"
)

// Voltasis scopes the fake knows of. Keys may carry any strings as scopes.
const (
	// VoltasisReadUsersScope is required by GET /v1/users.
	VoltasisReadUsersScope = "read:users"
	// VoltasisWriteTimeEntriesScope is the provider's example scope; the
	// fake checks it nowhere.
	VoltasisWriteTimeEntriesScope = "write:time-entries"
	// VoltasisOverrideScope lets a key send X-Organization-ID for another
	// organization.
	VoltasisOverrideScope = "admin:organizations"
)

// VoltasisKey describes a Voltasis API key for [Server.AddVoltasisKey].
type VoltasisKey struct {
	// Secret is the bearer value. Required.
	Secret string
	// ID identifies the key in /api/v1/api-keys; empty means generated.
	ID string
	// Name is the key's display name.
	Name string
	// UserID, Email, OrgID and OrgName describe the key's owner, as
	// GET /v1/auth/me reports them. OrgName "" keeps a known
	// organization's name.
	UserID, Email, OrgID, OrgName string
	// Scopes are the key's permissions: [VoltasisReadUsersScope] for
	// GET /v1/users, [VoltasisOverrideScope] to send X-Organization-ID for
	// another organization.
	Scopes []string
	// ExpiresAt, when not zero, is when the key stops working (server
	// clock).
	ExpiresAt time.Time
}

type vkey struct {
	VoltasisKey
	created time.Time
	revoked bool
	seq     int
}

func (k *vkey) active(now time.Time) bool {
	return !k.revoked && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

type voltasis struct {
	s       *Server
	limiter *limiter

	mu   sync.RWMutex
	keys map[string]*vkey // by secret
	byID map[string]*vkey
	orgs map[string]string // org ID -> name
	seq  int               // creation order of keys
}

func newVoltasis(s *Server, rl RateLimit) *voltasis {
	v := &voltasis{
		s:       s,
		limiter: newLimiter(rl, 100),
		keys:    make(map[string]*vkey),
		byID:    make(map[string]*vkey),
		orgs:    make(map[string]string),
	}
	for _, k := range []VoltasisKey{
		{Secret: VoltasisAPIKey, ID: VoltasisAPIKeyID, Name: "Default key", UserID: VoltasisUserID, Email: VoltasisEmail,
			OrgID: VoltasisOrgID, OrgName: VoltasisOrgName, Scopes: []string{VoltasisReadUsersScope, VoltasisWriteTimeEntriesScope}},
		{Secret: VoltasisAdminKey, ID: VoltasisAdminKeyID, Name: "Admin key", UserID: VoltasisAdminUserID, Email: VoltasisAdminEmail,
			OrgID: VoltasisOrgID, OrgName: VoltasisOrgName, Scopes: []string{VoltasisReadUsersScope, VoltasisWriteTimeEntriesScope, VoltasisOverrideScope}},
		{Secret: VoltasisOtherOrgKey, ID: VoltasisOtherOrgKeyID, Name: "Other key", UserID: VoltasisOtherOrgUserID, Email: VoltasisOtherOrgEmail,
			OrgID: VoltasisOtherOrgID, OrgName: VoltasisOtherOrgName, Scopes: []string{VoltasisReadUsersScope}},
	} {
		v.add(k, s.Now())
	}
	return v
}

// AddVoltasisKey adds an API key and returns its ID. It panics if
// k.Secret is empty.
func (s *Server) AddVoltasisKey(k VoltasisKey) string {
	if k.Secret == "" {
		panic("apiauthtest: VoltasisKey.Secret is empty")
	}
	return s.voltasis.add(k, s.Now())
}

func (v *voltasis) add(k VoltasisKey, created time.Time) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	if k.ID == "" {
		k.ID = "key_" + randomHex(8)
	}
	k.Scopes = slices.Clone(k.Scopes)
	if k.OrgName != "" || v.orgs[k.OrgID] == "" {
		v.orgs[k.OrgID] = k.OrgName
	}
	rec := &vkey{VoltasisKey: k, created: created, seq: v.seq}
	v.keys[k.Secret] = rec
	v.byID[k.ID] = rec
	return k.ID
}

func (v *voltasis) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/auth/me", v.auth(v.me))
	mux.HandleFunc("GET /v1/users", v.auth(v.users))
	mux.HandleFunc("POST /api/v1/api-keys", v.auth(v.createKey))
	mux.HandleFunc("GET /api/v1/api-keys", v.auth(v.listKeys))
	mux.HandleFunc("DELETE /api/v1/api-keys/{id}", v.auth(v.deleteKey))
}

func (v *voltasis) writeStatus(w http.ResponseWriter, status int) {
	writeStatusAPIError(w, status)
}

// routeError answers unknown routes; like every Voltasis request they count
// against the caller's rate limit first.
func (v *voltasis) routeError(w http.ResponseWriter, r *http.Request, status int) {
	v.auth(func(w http.ResponseWriter, _ *http.Request, _ *vcaller) {
		v.writeStatus(w, status)
	})(w, r)
}

// vcaller is the authenticated key and the organization the request acts
// on (its own, or the X-Organization-ID override).
type vcaller struct {
	key VoltasisKey
	org string
}

var (
	errVoltasisUnauthorized = apiError{Code: "UNAUTHORIZED", Message: "Invalid or missing authentication token"}
	errVoltasisForbidden    = apiError{Code: "FORBIDDEN", Message: "Insufficient permissions for this resource"}
)

// auth authenticates the bearer key, counts the request against the rate
// limit (per key, or per client IP without a valid key), applies the
// X-Organization-ID override, then calls next.
func (v *voltasis) auth(next func(http.ResponseWriter, *http.Request, *vcaller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := v.s.Now()
		var c *vcaller
		if tok, ok := bearer(r); ok {
			v.mu.RLock()
			if k := v.keys[tok]; k != nil && k.active(now) {
				c = &vcaller{key: k.VoltasisKey, org: k.OrgID}
			}
			v.mu.RUnlock()
		}
		principal := clientIP(r)
		if c != nil {
			principal = "key:" + c.key.ID
		}
		if d := v.limiter.take(principal, c == nil, now); !d.allowed {
			w.Header().Set("Retry-After", strconv.FormatInt(d.retryAfter(now), 10))
			writeAPIError(w, http.StatusTooManyRequests, apiError{Code: "RATE_LIMIT_EXCEEDED", Message: "Too many requests"})
			return
		}
		if c == nil {
			writeAPIError(w, http.StatusUnauthorized, errVoltasisUnauthorized)
			return
		}
		if org := r.Header.Get("X-Organization-ID"); org != "" && org != c.org {
			v.mu.RLock()
			_, known := v.orgs[org]
			v.mu.RUnlock()
			if !known || !slices.Contains(c.key.Scopes, VoltasisOverrideScope) {
				writeAPIError(w, http.StatusForbidden, errVoltasisForbidden)
				return
			}
			c.org = org
		}
		next(w, r, c)
	}
}

// me serves GET /v1/auth/me.
func (v *voltasis) me(w http.ResponseWriter, _ *http.Request, c *vcaller) {
	v.mu.RLock()
	name := v.orgs[c.org]
	v.mu.RUnlock()
	type org struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	type me struct {
		ID           string `json:"id"`
		Email        string `json:"email"`
		Organization org    `json:"organization"`
	}
	writeJSON(w, http.StatusOK, map[string]me{"data": {ID: c.key.UserID, Email: c.key.Email, Organization: org{c.org, name}}})
}

// VoltasisUser is one entry of GET /v1/users.
type VoltasisUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// users serves GET /v1/users (scope read:users): the owners of the
// organization's active keys.
func (v *voltasis) users(w http.ResponseWriter, _ *http.Request, c *vcaller) {
	if !slices.Contains(c.key.Scopes, VoltasisReadUsersScope) {
		writeAPIError(w, http.StatusForbidden, errVoltasisForbidden)
		return
	}
	now := v.s.Now()
	seen := map[string]bool{}
	list := []VoltasisUser{}
	v.mu.RLock()
	for _, k := range v.keys {
		if k.OrgID == c.org && k.active(now) && !seen[k.UserID] {
			seen[k.UserID] = true
			list = append(list, VoltasisUser{ID: k.UserID, Email: k.Email})
		}
	}
	v.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	writeJSON(w, http.StatusOK, map[string][]VoltasisUser{"data": list})
}

// VoltasisKeyInfo is an API key as /api/v1/api-keys describes it. Key (the
// secret) is only set in the answer to the POST that created the key.
type VoltasisKeyInfo struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt string   `json:"created_at"`
	ExpiresAt *string  `json:"expires_at"`
	Key       string   `json:"key,omitempty"`
}

func (k *vkey) info() VoltasisKeyInfo {
	i := VoltasisKeyInfo{ID: k.ID, Name: k.Name, Scopes: slices.Clone(k.Scopes), CreatedAt: rfc3339(k.created)}
	if i.Scopes == nil {
		i.Scopes = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		e := rfc3339(k.ExpiresAt)
		i.ExpiresAt = &e
	}
	return i
}

// createKey serves POST /api/v1/api-keys {"name","scopes","expires_at"}:
// 201 with the key, its secret included once. The scopes must be a subset
// of the caller's (403 otherwise).
func (v *voltasis) createKey(w http.ResponseWriter, r *http.Request, c *vcaller) {
	var body struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes"`
		ExpiresAt *string  `json:"expires_at"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeAPIError(w, http.StatusBadRequest, apiError{Code: "VALIDATION_ERROR", Message: "Request body must be a JSON object"})
		return
	}
	if body.Name == "" {
		writeAPIError(w, http.StatusBadRequest, apiError{Code: "VALIDATION_ERROR", Message: "name is required"})
		return
	}
	now := v.s.Now()
	var expires time.Time
	if body.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *body.ExpiresAt)
		if err != nil || !t.After(now) {
			writeAPIError(w, http.StatusBadRequest, apiError{Code: "VALIDATION_ERROR", Message: "expires_at must be an RFC 3339 time in the future"})
			return
		}
		expires = t
	}
	for _, sc := range body.Scopes {
		if !slices.Contains(c.key.Scopes, sc) {
			writeAPIError(w, http.StatusForbidden, errVoltasisForbidden)
			return
		}
	}
	k := VoltasisKey{
		Secret: "vk_" + randomHex(20), Name: body.Name,
		UserID: c.key.UserID, Email: c.key.Email, OrgID: c.org,
		Scopes: body.Scopes, ExpiresAt: expires,
	}
	id := v.add(k, now)
	v.mu.RLock()
	info := v.byID[id].info()
	v.mu.RUnlock()
	info.Key = k.Secret
	v.s.stats[Voltasis].tokensIssued.Add(1)
	writeJSON(w, http.StatusCreated, map[string]VoltasisKeyInfo{"data": info})
}

// listKeys serves GET /api/v1/api-keys: the organization's active keys,
// oldest first, without secrets.
func (v *voltasis) listKeys(w http.ResponseWriter, _ *http.Request, c *vcaller) {
	now := v.s.Now()
	var recs []*vkey
	v.mu.RLock()
	for _, k := range v.byID {
		if k.OrgID == c.org && k.active(now) {
			recs = append(recs, k)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].seq < recs[j].seq })
	list := make([]VoltasisKeyInfo, 0, len(recs))
	for _, k := range recs {
		list = append(list, k.info())
	}
	v.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string][]VoltasisKeyInfo{"data": list})
}

// deleteKey serves DELETE /api/v1/api-keys/{id}: 204, or 404 for a key
// that is unknown, already revoked or in another organization.
func (v *voltasis) deleteKey(w http.ResponseWriter, r *http.Request, c *vcaller) {
	v.mu.Lock()
	k := v.byID[r.PathValue("id")]
	found := k != nil && !k.revoked && k.OrgID == c.org
	if found {
		k.revoked = true
	}
	v.mu.Unlock()
	if !found {
		writeAPIError(w, http.StatusNotFound, apiError{Code: "NOT_FOUND", Message: "API key not found"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
