// Command voltasis checks a Voltasis API key (who am I), lists the
// organization's API keys and, when allowed to write, creates a short-lived
// key, uses it and revokes it.
//
// Against the real API (https://api.voltasis.com, or VOLTASIS_BASE_URL):
//
//	VOLTASIS_API_KEY=... [VOLTASIS_ORGANIZATION_ID=org_...] [VOLTASIS_EXAMPLE_WRITE=1] go run ./examples/voltasis
//
// VOLTASIS_ORGANIZATION_ID acts in another organization (X-Organization-ID;
// the key needs the permission). VOLTASIS_EXAMPLE_WRITE=1 allows the
// create-and-revoke round trip, which the example otherwise skips on a real
// account. With VOLTASIS_API_KEY unset it runs against the in-process fake
// (apiauthtest), offline, with all of the above.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/voltasis"
)

// The example's settings besides voltasis.EnvAPIKey.
const (
	envBaseURL = "VOLTASIS_BASE_URL"
	envOrgID   = "VOLTASIS_ORGANIZATION_ID"
	envWrite   = "VOLTASIS_EXAMPLE_WRITE"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "voltasis:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	baseURL := voltasis.BaseURL
	if v := os.Getenv(envBaseURL); v != "" {
		baseURL = v
	}
	otherOrg, write := os.Getenv(envOrgID), os.Getenv(envWrite) == "1"
	opts := apiauth.ClientOptions{TenantHeader: voltasis.TenantHeader}

	key, err := apiauth.StaticTokenFromEnv(voltasis.EnvAPIKey)
	var unset *apiauth.CredentialError
	if errors.As(err, &unset) && unset.Unset {
		fmt.Fprintln(out, voltasis.EnvAPIKey+" is not set: using the in-process fake (apiauthtest)")
		srv := apiauthtest.Start(apiauthtest.Config{})
		defer srv.Close()
		baseURL, opts.Base = srv.URL(apiauthtest.Voltasis), srv.Client().Transport
		// An admin key, which may act in other organizations.
		key, err = apiauth.NewStaticToken(apiauthtest.VoltasisAdminKey)
		otherOrg, write = apiauthtest.VoltasisOtherOrgID, true
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "key: %v\n", key) // prints redacted

	client, err := apiauth.NewClient(baseURL, key, &opts)
	if err != nil {
		return err
	}
	api := voltasis.Client{Client: client}

	me, err := api.Me(ctx)
	if errors.Is(err, apiauth.ErrUnauthorized) {
		return fmt.Errorf("%s was refused (malformed, expired or revoked): %w", voltasis.EnvAPIKey, err)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "me: %s <%s> in %s (%s)\n", me.ID, me.Email, me.Organization.ID, me.Organization.Name)

	if otherOrg != "" {
		me, err := api.Me(apiauth.WithTenant(ctx, otherOrg))
		switch {
		case errors.Is(err, apiauth.ErrForbidden):
			fmt.Fprintf(out, "acting in %s: refused, the key lacks the permission\n", otherOrg)
		case err != nil:
			return err
		default:
			fmt.Fprintf(out, "acting in %s: allowed (%s)\n", me.Organization.ID, me.Organization.Name)
		}
	}

	keys, err := api.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d active API keys:\n", len(keys))
	for _, k := range keys {
		expires := "never expires"
		if !k.ExpiresAt.IsZero() {
			expires = "expires " + k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(out, "  %s  %q %v, %s\n", k.ID, k.Name, k.Scopes, expires)
	}

	if !write {
		fmt.Fprintf(out, "skipping the create-and-revoke round trip (set %s=1 to run it)\n", envWrite)
		return nil
	}
	created, err := api.CreateAPIKey(ctx, voltasis.KeyRequest{
		Name:      "apiauth example (revoked at once)",
		Scopes:    []string{"read:users"},
		ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		return fmt.Errorf("creating a key: %w", err)
	}
	// The secret is shown once; it prints redacted, and the value itself is
	// a credential.
	fmt.Fprintf(out, "created %s, secret %v\n", created.ID, created.Key)
	revoked := false
	defer func() { // on an early return, do not leave the key behind
		if !revoked {
			if err := api.RevokeAPIKey(ctx, created.ID); err != nil {
				fmt.Fprintf(out, "revoking %s failed, revoke it by hand: %v\n", created.ID, err)
			}
		}
	}()
	newClient, err := apiauth.NewClient(baseURL, created.Key, &apiauth.ClientOptions{Base: opts.Base})
	if err != nil {
		return err
	}
	if me, err = (voltasis.Client{Client: newClient}).Me(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "the new key works: %s in %s\n", me.ID, me.Organization.ID)
	if err := api.RevokeAPIKey(ctx, created.ID); err != nil {
		return err
	}
	revoked = true
	_, err = voltasis.Client{Client: newClient}.Me(ctx)
	if !errors.Is(err, apiauth.ErrUnauthorized) {
		return fmt.Errorf("the revoked key was not refused: %v", err)
	}
	fmt.Fprintln(out, "revoked; the key is now refused:", err)
	return nil
}
