package audimodal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/audimodal"
)

// The health endpoint echoes the tenant a request acts on; an admin key may
// name another tenant, a tenant key may not.
func ExampleClient_Health() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	newClient := func(secret string) audimodal.Client {
		key, err := apiauth.ParseAPIKey(secret)
		if err != nil {
			panic(err)
		}
		// NewClient presets TenantHeader to audimodal.TenantHeader.
		api, err := audimodal.NewClient(srv.URL(apiauthtest.AudiModal), key, &apiauth.ClientOptions{Base: srv.Client().Transport})
		if err != nil {
			panic(err)
		}
		return api
	}
	admin := newClient(apiauthtest.AudiModalLiveKey)

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

	_, err = newClient(apiauthtest.AudiModalTenantKey).Health(other)
	var apiErr *apiauth.Error
	if errors.Is(err, apiauth.ErrInsufficientPermissions) && errors.As(err, &apiErr) {
		fmt.Println("tenant key:", apiErr.Code, "required role", apiErr.RequiredRole)
	}
	// Output:
	// healthy tenant_123
	// healthy tenant_456
	// tenant key: INSUFFICIENT_PERMISSIONS required role admin
}

// Log in, then trade the single-use refresh token for a new session.
// Tokens print redacted.
func ExampleClient_Login() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	api, err := audimodal.NewClient(srv.URL(apiauthtest.AudiModal), nil, &apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}

	sess, err := api.Login(ctx, apiauth.Login{
		Email:    apiauthtest.AudiModalEmail,
		Password: apiauthtest.AudiModalPassword,
		TenantID: apiauthtest.AudiModalTenantID,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(sess.User.Email, sess.User.Role, sess.User.TenantID)
	fmt.Println("token printed:", strings.Contains(fmt.Sprint(sess), sess.Token.AccessToken))

	next, err := api.Refresh(ctx, sess.Token.RefreshToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("rotated:", next.Token.RefreshToken != sess.Token.RefreshToken)
	_, err = api.Refresh(ctx, sess.Token.RefreshToken)
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
