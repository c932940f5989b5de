package apiauthtest

import (
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Seeded Artos credentials.
const (
	// ArtosUserID is a user of organization ArtosOrgID.
	ArtosUserID = "user_123"
	// ArtosOrgID is ArtosUserID's organization.
	ArtosOrgID = "org_123"
	// ArtosOtherUserID is a user of organization ArtosOtherOrgID.
	ArtosOtherUserID = "user_456"
	// ArtosOtherOrgID is ArtosOtherUserID's organization.
	ArtosOtherOrgID = "org_456"
	// ArtosNoOrgUserID is a user without an organization: it gets tokens,
	// but the organization-scoped endpoints answer it 403.
	ArtosNoOrgUserID = "user_no_org"
)

// ArtosItem is one document or template in Artos' listings.
type ArtosItem struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	OrganizationID string `json:"organization_id"`
}

type artos struct {
	s *Server

	mu        sync.RWMutex
	users     map[string]string // user ID -> org ID ("" = none)
	documents map[string][]ArtosItem
	templates map[string][]ArtosItem
}

func newArtos(s *Server) *artos {
	return &artos{
		s: s,
		users: map[string]string{
			ArtosUserID:      ArtosOrgID,
			ArtosOtherUserID: ArtosOtherOrgID,
			ArtosNoOrgUserID: "",
		},
		documents: map[string][]ArtosItem{
			ArtosOrgID: {
				{ID: "doc_1", Name: "Quarterly report", OrganizationID: ArtosOrgID},
				{ID: "doc_2", Name: "Study protocol", OrganizationID: ArtosOrgID},
			},
			ArtosOtherOrgID: {{ID: "doc_3", Name: "Other organization's memo", OrganizationID: ArtosOtherOrgID}},
		},
		templates: map[string][]ArtosItem{
			ArtosOrgID:      {{ID: "tpl_1", Name: "Protocol template", OrganizationID: ArtosOrgID}},
			ArtosOtherOrgID: {{ID: "tpl_2", Name: "Other organization's template", OrganizationID: ArtosOtherOrgID}},
		},
	}
}

// AddArtosUser adds (or replaces) an Artos user; orgID "" makes a user
// without an organization.
func (s *Server) AddArtosUser(userID, orgID string) {
	s.artos.mu.Lock()
	defer s.artos.mu.Unlock()
	s.artos.users[userID] = orgID
}

// MintArtosToken returns an Artos access token for userID signed with the
// server's key, as POST /get-access-token would issue it, with lifetime ttl
// from the server's now: zero means the configured Artos lifetime, and a
// negative ttl gives a token that expired -ttl ago. The organization claim
// is the user's (none for an unknown user). Minted tokens are not counted in
// [Stats].
func (s *Server) MintArtosToken(userID string, ttl time.Duration) string {
	if ttl == 0 {
		ttl = time.Duration(s.artosTTL.Load())
	}
	s.artos.mu.RLock()
	org := s.artos.users[userID]
	s.artos.mu.RUnlock()
	return s.artos.mint(userID, org, ttl)
}

// mint signs an Artos access token. Claims: iss "artos", typ "access",
// sub and user_id (the user), org_id (omitted when the user has none), iat,
// exp, jti.
func (a *artos) mint(userID, org string, ttl time.Duration) string {
	claims := jwt.MapClaims{"sub": userID, "user_id": userID}
	if org != "" {
		claims["org_id"] = org
	}
	tok, _, _ := a.s.sign(Artos, typAccess, ttl, claims)
	return tok
}

func (a *artos) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /get-access-token", a.getAccessToken)
	mux.HandleFunc("GET /api/v1/search/status", a.searchStatus)
	mux.HandleFunc("GET /api/v1/documents/{$}", a.list(func() map[string][]ArtosItem { return a.documents }))
	mux.HandleFunc("GET /api/v1/templates/{$}", a.list(func() map[string][]ArtosItem { return a.templates }))
	// FastAPI redirects a collection path without its trailing slash.
	mux.HandleFunc("GET /api/v1/documents", a.addSlash)
	mux.HandleFunc("GET /api/v1/templates", a.addSlash)
}

// detail is Artos' (FastAPI's) error body.
type detail struct {
	Detail any `json:"detail"`
}

const (
	artosNotAuthenticated = "Not authenticated"
	artosInvalidCreds     = "Invalid authentication credentials"
	artosNoOrg            = "User has no organization or not authorized"
)

func (a *artos) writeStatus(w http.ResponseWriter, status int) {
	writeJSON(w, status, detail{http.StatusText(status)})
}

func (a *artos) routeError(w http.ResponseWriter, _ *http.Request, status int) {
	a.writeStatus(w, status)
}

// getAccessToken serves POST /get-access-token: {"user_id":"…"} ->
// {"access_token":"<JWT>"}.
func (a *artos) getAccessToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID *string `json:"user_id"`
	}
	if err := decodeJSON(r, &body); err != nil || body.UserID == nil {
		// FastAPI's validation error.
		writeJSON(w, http.StatusUnprocessableEntity, detail{[]map[string]any{{
			"loc": []string{"body", "user_id"}, "msg": "field required", "type": "value_error.missing",
		}}})
		return
	}
	a.mu.RLock()
	org, ok := a.users[*body.UserID]
	a.mu.RUnlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, detail{artosInvalidCreds})
		return
	}
	tok := a.mint(*body.UserID, org, time.Duration(a.s.artosTTL.Load()))
	a.s.stats[Artos].tokensIssued.Add(1)
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok})
}

// searchStatus serves the public GET /api/v1/search/status.
func (a *artos) searchStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// list serves an organization-scoped collection.
func (a *artos) list(items func() map[string][]ArtosItem) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, detail{artosNotAuthenticated})
			return
		}
		claims, _, err := a.s.verify(tok, Artos, typAccess)
		if err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, detail{artosInvalidCreds})
			return
		}
		org := claimString(claims, "org_id")
		if org == "" {
			writeJSON(w, http.StatusForbidden, detail{artosNoOrg})
			return
		}
		a.mu.RLock()
		list := append([]ArtosItem{}, items()[org]...)
		a.mu.RUnlock()
		writeJSON(w, http.StatusOK, list)
	}
}

// addSlash redirects (307) to the same URL with a trailing slash, as an
// absolute URL keeping the family prefix and the query, as FastAPI does.
func (a *artos) addSlash(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + "/" + string(Artos) + r.URL.Path + "/"
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, u, http.StatusTemporaryRedirect)
}
