package apiauthtest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/apiauth/apiauth/apiauthtest"
)

func TestArtanisPrompts(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	srv.AddArtanisKey("artanis_extra_key", apiauthtest.ArtanisForeignOrgSlug)
	srv.AddArtanisProject(apiauthtest.ArtanisForeignOrgSlug, "added-project")

	const key = apiauthtest.ArtanisAPIKey
	tests := []struct {
		name, key, org, project string
		status                  int
		body                    string
	}{
		{"ok", key, apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisProjectSlug, 200,
			`[{"slug":"welcome","project":"my-project","content":"Hello, {{name}}!"},{"slug":"summary","project":"my-project","content":"Summarise: {{text}}"}]`},
		{"same key, second org", key, apiauthtest.ArtanisSecondOrgSlug, apiauthtest.ArtanisSecondProjectSlug, 200, ""},
		{"no key", "", apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisProjectSlug, 401, "Unauthorized"},
		{"unknown key", "wrong", apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisProjectSlug, 401, "Unauthorized"},
		{"no org", key, "", apiauthtest.ArtanisProjectSlug, 403, "Forbidden"},
		{"org of another key", key, apiauthtest.ArtanisForeignOrgSlug, apiauthtest.ArtanisForeignProjectSlug, 403, "Forbidden"},
		{"project of the other org", key, apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisSecondProjectSlug, 403, "Forbidden"},
		{"unknown project", key, apiauthtest.ArtanisOrgSlug, "no-such-project", 404, "Not Found"},
		{"no project", key, apiauthtest.ArtanisOrgSlug, "", 400, "projectSlug is required"},
		{"added key and project", "artanis_extra_key", apiauthtest.ArtanisForeignOrgSlug, "added-project", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := srv.URL(apiauthtest.Artanis) + "/api/prompts"
			if tt.project != "" {
				u += "?projectSlug=" + url.QueryEscape(tt.project)
			}
			var h []string
			if tt.key != "" {
				h = append(h, "x-api-key", tt.key)
			}
			if tt.org != "" {
				h = append(h, "x-org-slug", tt.org)
			}
			r := do(t, srv, "GET", u, "", h...)
			r.want(t, tt.status, tt.body)
			if tt.status != 200 && r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("error Content-Type = %q, want plain text", r.Header.Get("Content-Type"))
			}
		})
	}
	st := srv.Stats().Artanis
	if st.Requests != int64(len(tests)) || st.Unauthorized != 2 || st.Forbidden != 3 {
		t.Errorf("Stats().Artanis = %+v", st)
	}
}

func TestArtanisRouteErrors(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	do(t, srv, "POST", srv.URL(apiauthtest.Artanis)+"/api/prompts", "{}").want(t, http.StatusMethodNotAllowed, "Method Not Allowed")
	do(t, srv, "GET", srv.URL(apiauthtest.Artanis)+"/api/other", "").want(t, http.StatusNotFound, "Not Found")
}
