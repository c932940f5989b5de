// Command artos lists an Artos organization's documents and templates.
//
// Against the real API, set ARTOS_TOKEN to a token from your organization
// administrator (and ARTOS_BASE_URL to use another environment than
// https://api.artosai.com):
//
//	ARTOS_TOKEN=... go run ./examples/artos
//
// With ARTOS_TOKEN unset it runs against the in-process fake
// (apiauthtest), which hands out tokens through POST /get-access-token; it
// then needs no network and no secret.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/transport"
)

// envBaseURL overrides artos.BaseURL.
const envBaseURL = "ARTOS_BASE_URL"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "artos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	baseURL := artos.BaseURL
	if v := os.Getenv(envBaseURL); v != "" {
		baseURL = v
	}
	var opts apiauth.ClientOptions
	var cred transport.Credential

	tok, err := apiauth.StaticTokenFromEnv(artos.EnvToken)
	var unset *apiauth.CredentialError
	switch {
	case errors.As(err, &unset) && unset.Unset:
		fmt.Fprintln(out, artos.EnvToken+" is not set: using the in-process fake (apiauthtest)")
		srv := apiauthtest.Start(apiauthtest.Config{})
		defer srv.Close()
		baseURL, opts.Base = srv.URL(apiauthtest.Artos), srv.Client().Transport
		// The fake plays the administrator: a token cache in front of
		// POST /get-access-token fetches a JWT and a new one before its
		// exp claim.
		src, err := apiauth.NewTokenEndpoint(baseURL+"/get-access-token", apiauthtest.ArtosUserID,
			&apiauth.SourceOptions{HTTPClient: srv.Client()})
		if err != nil {
			return err
		}
		cache := apiauth.NewTokenCache(src, nil)
		defer cache.Close()
		cred = cache
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "using %s at %s\n", artos.EnvToken, baseURL)
		cred = tok
	}

	client, err := apiauth.NewClient(baseURL, cred, &opts)
	if err != nil {
		return err
	}
	api := artos.Client{Client: client}

	status, err := api.SearchStatus(ctx)
	if err != nil {
		return fmt.Errorf("search status: %w", err)
	}
	fmt.Fprintln(out, "search status:", status.Status)

	docs, err := api.ListDocuments(ctx)
	switch {
	case errors.Is(err, apiauth.ErrUnauthorized):
		return fmt.Errorf("the token was refused (missing, malformed or expired; ask your administrator for a new one): %w", err)
	case errors.Is(err, apiauth.ErrForbidden):
		return fmt.Errorf("the token's user has no organization: %w", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "%d documents:\n", len(docs))
	for _, d := range docs {
		fmt.Fprintf(out, "  %s  %s\n", d.ID, d.Name)
	}

	templates, err := api.ListTemplates(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d templates:\n", len(templates))
	for _, t := range templates {
		fmt.Fprintf(out, "  %s  %s\n", t.ID, t.Name)
	}
	return nil
}
