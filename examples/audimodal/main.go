// Command audimodal tests an AudiModal API key (health), lists the tenant's
// files, reaches another tenant with an admin key, and keeps a user session
// alive from a login.
//
// Against the real API (https://api.audimodal.ai, or AUDIMODAL_BASE_URL):
//
//	AUDIMODAL_API_KEY=sk_live_... [AUDIMODAL_OTHER_TENANT_ID=tenant_456] \
//	  [AUDIMODAL_EMAIL=... AUDIMODAL_PASSWORD=... AUDIMODAL_TENANT_ID=...] go run ./examples/audimodal
//
// AUDIMODAL_OTHER_TENANT_ID is sent as X-Tenant-ID (admin keys only); the
// login settings add a user session (login once, then single-use refresh
// tokens). With AUDIMODAL_API_KEY unset it runs against the in-process fake
// (apiauthtest), offline, with all of the above.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/audimodal"
)

// The example's settings besides audimodal.EnvAPIKey.
const (
	envBaseURL     = "AUDIMODAL_BASE_URL"
	envOtherTenant = "AUDIMODAL_OTHER_TENANT_ID"
	envEmail       = "AUDIMODAL_EMAIL"
	envPassword    = "AUDIMODAL_PASSWORD"
	envTenant      = "AUDIMODAL_TENANT_ID"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "audimodal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	baseURL := audimodal.BaseURL
	if v := os.Getenv(envBaseURL); v != "" {
		baseURL = v
	}
	otherTenant := os.Getenv(envOtherTenant)
	login := apiauth.Login{Email: os.Getenv(envEmail), Password: os.Getenv(envPassword), TenantID: os.Getenv(envTenant)}
	opts := apiauth.ClientOptions{TenantHeader: audimodal.TenantHeader}
	var loginHTTP *http.Client // nil: the login source's own client

	key, err := apiauth.APIKeyFromEnv(audimodal.EnvAPIKey)
	var unset *apiauth.CredentialError
	if errors.As(err, &unset) && unset.Unset {
		fmt.Fprintln(out, audimodal.EnvAPIKey+" is not set: using the in-process fake (apiauthtest)")
		srv := apiauthtest.Start(apiauthtest.Config{})
		defer srv.Close()
		baseURL, opts.Base, loginHTTP = srv.URL(apiauthtest.AudiModal), srv.Client().Transport, srv.Client()
		key, err = apiauth.ParseAPIKey(apiauthtest.AudiModalLiveKey)
		otherTenant = apiauthtest.AudiModalOtherTenantID
		login = apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "key: %v (mode %s)\n", key, key.Mode()) // prints redacted

	client, err := apiauth.NewClient(baseURL, key, &opts)
	if err != nil {
		return err
	}
	am := audimodal.Client{Client: client}

	h, err := am.Health(ctx)
	if err != nil {
		var apiErr *apiauth.Error
		if errors.Is(err, apiauth.ErrInvalidAPIKey) && errors.As(err, &apiErr) {
			return fmt.Errorf("%s was refused (%s): %w", audimodal.EnvAPIKey, apiErr.Code, err)
		}
		return err
	}
	fmt.Fprintf(out, "health: %s, %s %s, tenant %s\n", h.Status, h.Service, h.Version, h.TenantID)
	if err := listFiles(ctx, out, am); err != nil {
		return err
	}

	if otherTenant != "" {
		err := listFiles(apiauth.WithTenant(ctx, otherTenant), out, am)
		var apiErr *apiauth.Error
		switch {
		case errors.Is(err, apiauth.ErrInsufficientPermissions) && errors.As(err, &apiErr):
			fmt.Fprintf(out, "tenant %s: refused, the key needs role %q\n", otherTenant, apiErr.RequiredRole)
		case err != nil:
			return err
		}
	}

	if login.Email == "" || login.Password == "" {
		fmt.Fprintf(out, "no user session (set %s and %s to log in)\n", envEmail, envPassword)
		return nil
	}
	// A user session: one login, then the cache renews the access token
	// with its single-use refresh token before it expires.
	src, err := apiauth.NewLoginSource(baseURL, login, &apiauth.SourceOptions{HTTPClient: loginHTTP})
	if err != nil {
		return err
	}
	session := apiauth.NewTokenCache(src, nil)
	defer session.Close()
	tok, err := session.Token(ctx)
	if err != nil {
		return fmt.Errorf("logging in as %s: %w", login.Email, err)
	}
	fmt.Fprintf(out, "logged in as %s: token valid for %s, %v\n", login.Email, time.Until(tok.Expiry).Round(time.Minute), tok)
	userClient, err := apiauth.NewClient(baseURL, session, &opts)
	if err != nil {
		return err
	}
	return listFiles(ctx, out, audimodal.Client{Client: userClient})
}

func listFiles(ctx context.Context, out io.Writer, am audimodal.Client) error {
	files, err := am.ListFiles(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tenant %s: %d files\n", files.TenantID, len(files.Files))
	for _, f := range files.Files {
		fmt.Fprintf(out, "  %s  %s\n", f.ID, f.Name)
	}
	return nil
}
