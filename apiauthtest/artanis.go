package apiauthtest

import (
	"net/http"
	"sync"
)

// Seeded Artanis credentials. ArtanisAPIKey belongs to ArtanisOrgSlug and
// ArtanisSecondOrgSlug, not to ArtanisForeignOrgSlug.
const (
	ArtanisAPIKey = "artanis_fake_key_0001"
	// ArtanisOrgSlug is an organization of ArtanisAPIKey, holding
	// ArtanisProjectSlug.
	ArtanisOrgSlug     = "my-org"
	ArtanisProjectSlug = "my-project"
	// ArtanisSecondOrgSlug is another organization of ArtanisAPIKey, holding
	// ArtanisSecondProjectSlug: the same key reaches it by switching
	// x-org-slug.
	ArtanisSecondOrgSlug     = "second-org"
	ArtanisSecondProjectSlug = "second-project"
	// ArtanisForeignOrgSlug is an organization ArtanisAPIKey does not belong
	// to, holding ArtanisForeignProjectSlug.
	ArtanisForeignOrgSlug     = "other-org"
	ArtanisForeignProjectSlug = "other-project"
)

// ArtanisPrompt is one prompt in the answer to GET /api/prompts.
type ArtanisPrompt struct {
	Slug    string `json:"slug"`
	Project string `json:"project"`
	Content string `json:"content"`
}

type artanis struct {
	mu       sync.RWMutex
	keys     map[string]map[string]bool // key -> org slugs
	projects map[string]string          // project slug -> org slug
}

func newArtanis() *artanis {
	return &artanis{
		keys: map[string]map[string]bool{
			ArtanisAPIKey: {ArtanisOrgSlug: true, ArtanisSecondOrgSlug: true},
		},
		projects: map[string]string{
			ArtanisProjectSlug:        ArtanisOrgSlug,
			ArtanisSecondProjectSlug:  ArtanisSecondOrgSlug,
			ArtanisForeignProjectSlug: ArtanisForeignOrgSlug,
		},
	}
}

// AddArtanisKey adds an API key belonging to the given organizations, or
// adds organizations to an existing key.
func (s *Server) AddArtanisKey(key string, orgSlugs ...string) {
	a := s.artanis
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys[key] == nil {
		a.keys[key] = make(map[string]bool)
	}
	for _, o := range orgSlugs {
		a.keys[key][o] = true
	}
}

// AddArtanisProject adds (or moves) a project to an organization.
func (s *Server) AddArtanisProject(orgSlug, projectSlug string) {
	a := s.artanis
	a.mu.Lock()
	defer a.mu.Unlock()
	a.projects[projectSlug] = orgSlug
}

func (a *artanis) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/prompts", a.prompts)
}

// writeStatus answers status with the status text as plain text: Artanis
// documents statuses only.
func (a *artanis) writeStatus(w http.ResponseWriter, status int) {
	http.Error(w, http.StatusText(status), status)
}

func (a *artanis) routeError(w http.ResponseWriter, _ *http.Request, status int) {
	a.writeStatus(w, status)
}

// prompts serves GET /api/prompts?projectSlug=: 401 for a missing or
// unknown x-api-key; 403 when x-org-slug is missing or not one of the key's
// organizations, or when the project belongs to another organization; 400
// without projectSlug; 404 for an unknown project.
func (a *artanis) prompts(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	orgs, keyOK := a.keys[r.Header.Get("x-api-key")]
	org := r.Header.Get("x-org-slug")
	member := orgs[org]
	project := r.URL.Query().Get("projectSlug")
	projectOrg, projectOK := a.projects[project]
	a.mu.RUnlock()

	switch {
	case !keyOK:
		a.writeStatus(w, http.StatusUnauthorized)
	case !member:
		a.writeStatus(w, http.StatusForbidden)
	case project == "":
		http.Error(w, "projectSlug is required", http.StatusBadRequest)
	case !projectOK:
		a.writeStatus(w, http.StatusNotFound)
	case projectOrg != org:
		a.writeStatus(w, http.StatusForbidden)
	default:
		writeJSON(w, http.StatusOK, []ArtanisPrompt{
			{Slug: "welcome", Project: project, Content: "Hello, {{name}}!"},
			{Slug: "summary", Project: project, Content: "Summarise: {{text}}"},
		})
	}
}
