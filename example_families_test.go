package apiauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

// Artos: a token cache in front of POST /get-access-token keeps a JWT
// fresh; the typed wrapper lists the organization's documents.
func ExampleArtos_ListDocuments() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()

	src, err := apiauth.NewTokenEndpoint(srv.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID,
		&apiauth.SourceOptions{HTTPClient: srv.Client()})
	if err != nil {
		panic(err)
	}
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()
	// Against the real API: apiauth.NewClient(apiauth.ArtosBaseURL, cache, nil).
	client, err := apiauth.NewClient(srv.URL(apiauthtest.Artos), cache,
		&apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}
	artos := apiauth.Artos{Client: client}

	status, err := artos.SearchStatus(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("search:", status.Status)
	docs, err := artos.ListDocuments(ctx)
	if err != nil {
		panic(err)
	}
	for _, d := range docs {
		fmt.Println(d.ID, d.Name, d.OrganizationID)
	}
	// Output:
	// search: ok
	// doc_1 Quarterly report org_123
	// doc_2 Study protocol org_123
}

// Artanis: one key, its default organization in the header pair, and
// another organization picked per request.
func ExampleArtanis_ListPrompts() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()

	pair, err := apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug)
	if err != nil {
		panic(err)
	}
	client, err := apiauth.NewClient(srv.URL(apiauthtest.Artanis), pair, &apiauth.ClientOptions{
		Base:         srv.Client().Transport,
		TenantHeader: apiauth.ArtanisTenantHeader,
	})
	if err != nil {
		panic(err)
	}
	artanis := apiauth.Artanis{Client: client}

	prompts, err := artanis.ListPrompts(ctx, apiauthtest.ArtanisProjectSlug)
	if err != nil {
		panic(err)
	}
	fmt.Println(apiauthtest.ArtanisOrgSlug, len(prompts), prompts[0].Slug)

	second := apiauth.WithTenant(ctx, apiauthtest.ArtanisSecondOrgSlug)
	prompts, err = artanis.ListPrompts(second, apiauthtest.ArtanisSecondProjectSlug)
	if err != nil {
		panic(err)
	}
	fmt.Println(apiauthtest.ArtanisSecondOrgSlug, len(prompts), prompts[0].Project)

	_, err = artanis.ListPrompts(ctx, apiauthtest.ArtanisSecondProjectSlug)
	fmt.Println("wrong organization:", errors.Is(err, apiauth.ErrForbidden))
	// Output:
	// my-org 2 welcome
	// second-org 2 second-project
	// wrong organization: true
}

// Voltasis: create an API key (its secret prints redacted), use it, revoke
// it, and watch the revoked key get 401.
func ExampleVoltasis_CreateAPIKey() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	newVoltasis := func(cred apiauth.StaticToken) apiauth.Voltasis {
		client, err := apiauth.NewClient(srv.URL(apiauthtest.Voltasis), cred,
			&apiauth.ClientOptions{Base: srv.Client().Transport})
		if err != nil {
			panic(err)
		}
		return apiauth.Voltasis{Client: client}
	}
	key, err := apiauth.NewStaticToken(apiauthtest.VoltasisAPIKey)
	if err != nil {
		panic(err)
	}
	voltasis := newVoltasis(key)

	created, err := voltasis.CreateAPIKey(ctx, apiauth.VoltasisKeyRequest{
		Name:   "CI/CD Pipeline Key",
		Scopes: []string{"read:users"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(created.Name, created.Scopes, "never expires:", created.ExpiresAt.IsZero())
	fmt.Println("secret printed:", strings.Contains(fmt.Sprintf("%+v", created), created.Key.Secret()))

	ci := newVoltasis(created.Key)
	me, err := ci.Me(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("new key acts as", me.ID, "in", me.Organization.ID)

	if err := voltasis.RevokeAPIKey(ctx, created.ID); err != nil {
		panic(err)
	}
	_, err = ci.Me(ctx)
	var apiErr *apiauth.Error
	if errors.Is(err, apiauth.ErrUnauthorized) && errors.As(err, &apiErr) {
		fmt.Println("after revocation:", apiErr.StatusCode, apiErr.Code)
	}
	// Output:
	// CI/CD Pipeline Key [read:users] never expires: true
	// secret printed: false
	// new key acts as usr_123456789 in org_123456789
	// after revocation: 401 UNAUTHORIZED
}

// AudiModal: the health endpoint echoes the tenant a request acts on; an
// admin key may name another tenant, a tenant key may not.
func ExampleAudiModal_Health() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	newAudiModal := func(secret string) apiauth.AudiModal {
		key, err := apiauth.ParseAPIKey(secret)
		if err != nil {
			panic(err)
		}
		client, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), key, &apiauth.ClientOptions{
			Base:         srv.Client().Transport,
			TenantHeader: apiauth.AudiModalTenantHeader,
		})
		if err != nil {
			panic(err)
		}
		return apiauth.AudiModal{Client: client}
	}
	admin := newAudiModal(apiauthtest.AudiModalLiveKey)

	h, err := admin.Health(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Status, h.TenantID)
	other := apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID)
	if h, err = admin.Health(other); err != nil {
		panic(err)
	}
	fmt.Println(h.Status, h.TenantID)

	_, err = newAudiModal(apiauthtest.AudiModalTenantKey).Health(other)
	var apiErr *apiauth.Error
	if errors.Is(err, apiauth.ErrInsufficientPermissions) && errors.As(err, &apiErr) {
		fmt.Println("tenant key:", apiErr.Code, "required role", apiErr.RequiredRole)
	}
	// Output:
	// healthy tenant_123
	// healthy tenant_456
	// tenant key: INSUFFICIENT_PERMISSIONS required role admin
}

// AudiModal: log in, then trade the single-use refresh token for a new
// session. Tokens print redacted.
func ExampleAudiModal_Login() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	client, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), nil,
		&apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}
	am := apiauth.AudiModal{Client: client}

	sess, err := am.Login(ctx, apiauth.Login{
		Email:    apiauthtest.AudiModalEmail,
		Password: apiauthtest.AudiModalPassword,
		TenantID: apiauthtest.AudiModalTenantID,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(sess.User.Email, sess.User.Role, sess.User.TenantID)
	fmt.Println("token printed:", strings.Contains(fmt.Sprint(sess), sess.Token.AccessToken))

	next, err := am.Refresh(ctx, sess.Token.RefreshToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("rotated:", next.Token.RefreshToken != sess.Token.RefreshToken)
	_, err = am.Refresh(ctx, sess.Token.RefreshToken)
	fmt.Println("old refresh token reused:", errors.Is(err, apiauth.ErrUnauthorized))
	st := srv.Stats().AudiModal
	fmt.Println("logins", st.Logins, "refreshes", st.Refreshes, "rejected", st.RefreshRejections)
	// Output:
	// user@company.com admin tenant_123
	// token printed: false
	// rotated: true
	// old refresh token reused: true
	// logins 1 refreshes 1 rejected 1
}
