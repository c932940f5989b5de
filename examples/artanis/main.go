// Command artanis lists the prompts of an Artanis project, and of a project
// in a second organization reached with the same key by switching
// x-org-slug per request.
//
// Against the real API (https://app.artanis.ai, or ARTANIS_BASE_URL):
//
//	ARTANIS_API_KEY=... ARTANIS_ORG_SLUG=my-org ARTANIS_PROJECT_SLUG=my-project \
//	  [ARTANIS_SECOND_ORG_SLUG=... ARTANIS_SECOND_PROJECT_SLUG=...] go run ./examples/artanis
//
// With ARTANIS_API_KEY unset it runs against the in-process fake
// (apiauthtest), offline.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
)

// The example's settings besides artanis.EnvAPIKey.
const (
	envBaseURL       = "ARTANIS_BASE_URL"
	envOrgSlug       = "ARTANIS_ORG_SLUG"
	envProjectSlug   = "ARTANIS_PROJECT_SLUG"
	envSecondOrg     = "ARTANIS_SECOND_ORG_SLUG"
	envSecondProject = "ARTANIS_SECOND_PROJECT_SLUG"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "artanis:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	baseURL := artanis.BaseURL
	if v := os.Getenv(envBaseURL); v != "" {
		baseURL = v
	}
	org, project := os.Getenv(envOrgSlug), os.Getenv(envProjectSlug)
	secondOrg, secondProject := os.Getenv(envSecondOrg), os.Getenv(envSecondProject)
	opts := apiauth.ClientOptions{TenantHeader: artanis.TenantHeader}

	var pair apiauth.HeaderPair
	var err error
	if _, set := os.LookupEnv(artanis.EnvAPIKey); set {
		if org == "" || project == "" {
			return fmt.Errorf("set %s and %s", envOrgSlug, envProjectSlug)
		}
		pair, err = apiauth.HeaderPairFromEnv(artanis.EnvAPIKey, org)
	} else {
		fmt.Fprintln(out, artanis.EnvAPIKey+" is not set: using the in-process fake (apiauthtest)")
		srv := apiauthtest.Start(apiauthtest.Config{})
		defer srv.Close()
		baseURL, opts.Base = srv.URL(apiauthtest.Artanis), srv.Client().Transport
		org, project = apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisProjectSlug
		secondOrg, secondProject = apiauthtest.ArtanisSecondOrgSlug, apiauthtest.ArtanisSecondProjectSlug
		pair, err = apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, org)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "credential: %v\n", pair) // the key prints redacted

	client, err := apiauth.NewClient(baseURL, pair, &opts)
	if err != nil {
		return err
	}
	api := artanis.Client{Client: client}

	if err := list(ctx, out, api, org, project); err != nil {
		return err
	}
	if secondOrg != "" && secondProject != "" {
		// Same key, another organization, for this request only.
		if err := list(apiauth.WithTenant(ctx, secondOrg), out, api, secondOrg, secondProject); err != nil {
			return err
		}
	}
	return nil
}

func list(ctx context.Context, out io.Writer, api artanis.Client, org, project string) error {
	prompts, err := api.ListPrompts(ctx, project)
	switch {
	case errors.Is(err, apiauth.ErrUnauthorized):
		return fmt.Errorf("%s was refused: %w", artanis.EnvAPIKey, err)
	case errors.Is(err, apiauth.ErrForbidden):
		return fmt.Errorf("project %s is not in organization %s, or the key is not a member: %w", project, org, err)
	case errors.Is(err, apiauth.ErrNotFound):
		return fmt.Errorf("no project %s: %w", project, err)
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "%s/%s: %d prompts\n", org, project, len(prompts))
	for _, p := range prompts {
		fmt.Fprintf(out, "  %s: %q\n", p.Slug, p.Content)
	}
	return nil
}
