package apiauth_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
)

// fltHeaderCases are the fault-matrix rows for header spellings: issue 13 rows 1-2.
//
// A header set by hand as req.Header["x-api-key"] (the spelling Artanis
// documents) is a map key net/http sends, and copies to every redirect hop,
// exactly as it is spelled; a check that looks up only the canonical key
// "X-Api-Key" misses it.
func fltHeaderCases() []fltCase {
	// The names no hop that left the origin may carry, under any spelling.
	credNames := []string{"Authorization", "X-Api-Key", "X-Org-Slug"}
	return []fltCase{
		{
			name: "hand-set lower-case x-api-key, 302 to another origin",
			want: "success: the foreign origin receives no credential header", api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				// localhost is another host than the client's 127.0.0.1,
				// and the foreign server listens on another port.
				return fltHeaderRedirect(t, ctx, s, credNames, func(foreign *url.URL) string {
					return "http://localhost:" + foreign.Port() + "/landing"
				}, func(h http.Header) {
					h["x-api-key"] = []string{apiauthtest.ArtanisAPIKey}
					h["x-org-slug"] = []string{"acme"}
				})
			},
		},
		{
			name: "hand-set lower-case authorization, 302 to the same host on another port",
			want: "success: the other port receives no Authorization", api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				// Same host, other port: net/http's own Authorization
				// strip compares host names only and lets it through.
				return fltHeaderRedirect(t, ctx, s, credNames, func(foreign *url.URL) string {
					return "http://127.0.0.1:" + foreign.Port() + "/landing"
				}, func(h http.Header) {
					h["authorization"] = []string{"Bearer " + fltOpaque}
				})
			},
		},
		{
			name: "hand-set lower-case tenant header, WithTenant override",
			want: "success: the origin receives exactly one tenant value, the override", api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				var mu sync.Mutex
				var got [][]string
				srv := fltServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					got = append(got, r.Header.Values("X-Tenant-Id"))
					mu.Unlock()
					fltJSON(http.StatusOK, `{}`)(w, r)
				}))
				*s = srv
				c := fltClient(t, srv.URL, fltKey(t, apiauthtest.AudiModalLiveKey), apiauth.ClientOptions{TenantHeader: "X-Tenant-ID"})
				req, err := c.NewRequest(apiauth.WithTenant(ctx, "mine"), http.MethodGet, "v1/files", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header["x-tenant-id"] = []string{"victim"}
				_, err = c.Do(req, nil)
				mu.Lock()
				defer mu.Unlock()
				if len(got) != 1 || !slices.Equal(got[0], []string{"mine"}) {
					t.Errorf("X-Tenant-Id values per request: %q, want one request with [\"mine\"]", got)
				}
				//lint:ignore SA1008 the non-canonical key is the point of the row
				if v := req.Header["x-tenant-id"]; !slices.Equal(v, []string{"victim"}) {
					t.Errorf("the caller's request was modified: x-tenant-id = %q", v)
				}
				return fltOutcome{err: err}
			},
		},
	}
}

// fltHeaderRedirect sends one GET through a client of an origin server that
// answers 302 to target(foreign server URL), with headers set on the
// request by set, and checks that the foreign server got the redirected
// request and none of the names in forbidden under any spelling. It reports
// only header names, never their values.
func fltHeaderRedirect(t *testing.T, ctx context.Context, s **fltServer, forbidden []string,
	target func(foreign *url.URL) string, set func(http.Header)) fltOutcome {
	t.Helper()
	var mu sync.Mutex
	var leaked []string
	foreign := fltServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for k := range r.Header {
			for _, name := range forbidden {
				if strings.EqualFold(k, name) {
					leaked = append(leaked, k)
				}
			}
		}
		mu.Unlock()
		fltJSON(http.StatusOK, `{}`)(w, r)
	}))
	fu, err := url.Parse(foreign.URL)
	if err != nil {
		t.Fatal(err)
	}
	to := target(fu)
	origin := fltServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to, http.StatusFound)
	}))
	*s = origin
	// TenantHeader as artanis.NewClient presets it: transport names no
	// provider's header, so x-org-slug is stripped as the tenant header
	// (and, with an apiauth.HeaderPair, as a header the credential names).
	c := fltClient(t, origin.URL, fltStatic(t, apiauthtest.VoltasisAdminKey), apiauth.ClientOptions{TenantHeader: artanis.TenantHeader})
	req, err := c.NewRequest(ctx, http.MethodGet, "v1/files", nil)
	if err != nil {
		t.Fatal(err)
	}
	set(req.Header)
	_, err = c.Do(req, nil)
	if n := foreign.api.Load(); n != 1 {
		t.Errorf("the foreign server received %d requests, want the redirected one", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the foreign server received credential headers %q", leaked)
	}
	return fltOutcome{err: err}
}
