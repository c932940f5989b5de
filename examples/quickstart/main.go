// Command quickstart walks through apiauth against the built-in fake of the
// four API families (apiauthtest). It needs no network and no secrets:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/voltasis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	srv := apiauthtest.Start(apiauthtest.Config{
		ArtosTokenTTL:      4 * time.Second, // short lifetimes so refreshes happen while you watch
		AudiModalTokenTTL:  2 * time.Second,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: 3, Window: 2 * time.Second},
	})
	defer srv.Close()
	// The fake serves TLS with its own certificate; its client trusts it.
	trusting := srv.Client()
	opts := func(o apiauth.ClientOptions) *apiauth.ClientOptions {
		o.Base = trusting.Transport
		return &o
	}

	step("1. Artos: a JWT from POST /get-access-token, cached and refreshed before it expires")
	// Against the real API: artos.NewTokenSource("", userID, nil).
	src, err := artos.NewTokenSource(srv.URL(apiauthtest.Artos), apiauthtest.ArtosUserID, nil)
	if err != nil {
		return err
	}
	var fetched atomic.Int32
	cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{OnToken: func(t *apiauth.Token) {
		fmt.Printf("   new token #%d, valid for %s (from the JWT's exp claim): %v\n",
			fetched.Add(1), time.Until(t.Expiry).Round(time.Second), t)
	}})
	defer cache.Close()
	// The token source has no HTTPClient of its own: it rides the client's
	// Base, the fake's TLS setup.
	artosAPI, err := artos.NewClient(srv.URL(apiauthtest.Artos), cache, opts(apiauth.ClientOptions{}))
	if err != nil {
		return err
	}
	docs, err := artosAPI.ListDocuments(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   listed %d documents of %s\n", len(docs), apiauthtest.ArtosOrgID)
	time.Sleep(3200 * time.Millisecond) // into the refresh-ahead window
	start := time.Now()
	if _, err := artosAPI.ListTemplates(ctx); err != nil {
		return err
	}
	fmt.Printf("   a call in the refresh window took %s, round trip included: the old token is still served while one refresh runs\n",
		time.Since(start).Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)

	step("2. Artanis: an x-api-key + x-org-slug pair, with the org switched per request")
	pair, err := apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug)
	if err != nil {
		return err
	}
	artanisAPI, err := artanis.NewClient(srv.URL(apiauthtest.Artanis), pair, opts(apiauth.ClientOptions{})) // tenant header x-org-slug
	if err != nil {
		return err
	}
	fmt.Printf("   credential prints redacted: %v\n", pair)
	if _, err := artanisAPI.ListPrompts(ctx, apiauthtest.ArtanisProjectSlug); err != nil {
		return err
	}
	fmt.Printf("   prompts of %s/%s: ok\n", apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisProjectSlug)
	inSecond := apiauth.WithTenant(ctx, apiauthtest.ArtanisSecondOrgSlug)
	if _, err := artanisAPI.ListPrompts(inSecond, apiauthtest.ArtanisSecondProjectSlug); err != nil {
		return err
	}
	fmt.Printf("   prompts of %s/%s (org switched by context): ok\n", apiauthtest.ArtanisSecondOrgSlug, apiauthtest.ArtanisSecondProjectSlug)

	step("3. Voltasis: an X-Organization-ID override, refused without permission, then allowed")
	for _, k := range []struct{ name, key string }{{"member key", apiauthtest.VoltasisAPIKey}, {"admin key", apiauthtest.VoltasisAdminKey}} {
		tok, err := apiauth.NewStaticToken(k.key)
		if err != nil {
			return err
		}
		voltasisAPI, err := voltasis.NewClient(srv.URL(apiauthtest.Voltasis), tok,
			opts(apiauth.ClientOptions{Tenant: apiauthtest.VoltasisOtherOrgID})) // tenant header X-Organization-ID
		if err != nil {
			return err
		}
		me, err := voltasisAPI.Me(ctx)
		switch {
		case errors.Is(err, apiauth.ErrForbidden):
			fmt.Printf("   %s: refused, errors.Is(err, apiauth.ErrForbidden): %v\n", k.name, err)
		case err != nil:
			return err
		default:
			fmt.Printf("   %s: allowed, acting in %s\n", k.name, me.Organization.ID)
		}
	}

	step("4. AudiModal: log in once, then single-use refresh tokens rotate on every renewal")
	login, err := audimodal.NewLoginSource(srv.URL(apiauthtest.AudiModal),
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}, nil)
	if err != nil {
		return err
	}
	sessions := apiauth.NewTokenCache(login, nil)
	defer sessions.Close()
	audimodalAPI, err := audimodal.NewClient(srv.URL(apiauthtest.AudiModal), sessions, opts(apiauth.ClientOptions{})) // tenant header X-Tenant-ID
	if err != nil {
		return err
	}
	deadline := time.Now().Add(4500 * time.Millisecond)
	calls := 0
	for time.Now().Before(deadline) {
		if _, err := audimodalAPI.ListFiles(ctx); err != nil {
			return err
		}
		calls++
		time.Sleep(500 * time.Millisecond) // calls spread over two token lifetimes
	}
	am := srv.Stats().AudiModal
	fmt.Printf("   %d calls over %d token lifetimes: %d login, %d refreshes, %d refresh tokens rejected, %d answered 429\n",
		calls, 2, am.Logins, am.Refreshes, am.RefreshRejections, am.RateLimited)

	step("5. AudiModal: paced from X-RateLimit-* headers; a 429 with retry_after in its body is waited out")
	key, err := apiauth.ParseAPIKey(apiauthtest.AudiModalTestKey)
	if err != nil {
		return err
	}
	fmt.Printf("   key mode %s, prints as %v\n", key.Mode(), key)
	keyClient, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), key, opts(apiauth.ClientOptions{}))
	if err != nil {
		return err
	}
	before := srv.Stats().AudiModal.RateLimited
	start = time.Now()
	var last *apiauth.Response
	for range 6 { // twice the limit of 3 per 2 s window
		if last, err = keyClient.Get(ctx, "v1/health", nil); err != nil {
			return err
		}
	}
	fmt.Printf("   6 calls against a limit of 3 per 2 s: all succeeded in %s, %d answered 429 (paced; last snapshot: %d of %d left)\n",
		time.Since(start).Round(100*time.Millisecond), srv.Stats().AudiModal.RateLimited-before, last.RateLimit.Remaining, last.RateLimit.Limit)
	// Another replica with the same key spends the budget behind our back:
	// at the start of a fresh window we see 2 of 3 left, the replica takes
	// those 2, and our next call earns a 429, whose retry_after the retry
	// layer waits out.
	time.Sleep(time.Until(last.RateLimit.Reset) + 50*time.Millisecond)
	if last, err = keyClient.Get(ctx, "v1/health", nil); err != nil {
		return err
	}
	for range last.RateLimit.Remaining {
		req, _ := http.NewRequest(http.MethodGet, srv.URL(apiauthtest.AudiModal)+"/v1/health", nil)
		req.Header.Set("Authorization", "Bearer "+apiauthtest.AudiModalTestKey)
		if resp, err := trusting.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	before = srv.Stats().AudiModal.RateLimited
	start = time.Now()
	if _, err := keyClient.Get(ctx, "v1/health", nil); err != nil {
		return err
	}
	waited := srv.Stats().AudiModal.RateLimited - before
	fmt.Printf("   budget spent by another replica: the call earned %d 429 and succeeded after %s, once the retry_after had passed\n",
		waited, time.Since(start).Round(100*time.Millisecond))
	if waited != 1 {
		return fmt.Errorf("quickstart: expected the call to earn and wait out one 429, it earned %d", waited)
	}

	step("6. Typed errors: branch with errors.Is and errors.As, never on strings")
	expired, _ := apiauth.NewStaticToken(srv.MintAudiModalToken(apiauthtest.AudiModalEmail, -time.Minute))
	expiredClient, _ := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), expired, opts(apiauth.ClientOptions{}))
	_, err = expiredClient.Get(ctx, "v1/files", nil)
	var apiErr *apiauth.Error
	if errors.Is(err, apiauth.ErrTokenExpired) && errors.As(err, &apiErr) {
		fmt.Printf("   expired token: ErrTokenExpired, code %s, status %d, expired at %s\n",
			apiErr.Code, apiErr.StatusCode, apiErr.ExpiresAt.Format(time.TimeOnly))
	} else {
		return fmt.Errorf("expected ErrTokenExpired, got %v", err)
	}
	tenantKey, _ := apiauth.ParseAPIKey(apiauthtest.AudiModalTenantKey)
	tenantClient, _ := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), tenantKey, opts(apiauth.ClientOptions{TenantHeader: "X-Tenant-ID"}))
	_, err = tenantClient.Get(apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID), "v1/files", nil)
	if errors.Is(err, apiauth.ErrInsufficientPermissions) && errors.As(err, &apiErr) {
		fmt.Printf("   tenant key asking for another tenant: ErrInsufficientPermissions, required role %q\n", apiErr.RequiredRole)
	} else {
		return fmt.Errorf("expected ErrInsufficientPermissions, got %v", err)
	}
	fmt.Println("\nDone: every family, offline, with no secret printed.")
	return nil
}

func step(s string) { fmt.Println("\n" + s) }
