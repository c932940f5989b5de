package voltasis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/voltasis"
)

// Create an API key (its secret prints redacted), use it, revoke it, and
// watch the revoked key get 401.
func ExampleClient_CreateAPIKey() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	newClient := func(cred apiauth.StaticToken) voltasis.Client {
		api, err := voltasis.NewClient(srv.URL(apiauthtest.Voltasis), cred, &apiauth.ClientOptions{Base: srv.Client().Transport})
		if err != nil {
			panic(err)
		}
		return api
	}
	key, err := apiauth.NewStaticToken(apiauthtest.VoltasisAPIKey)
	if err != nil {
		panic(err)
	}
	api := newClient(key)

	created, err := api.CreateAPIKey(ctx, voltasis.KeyRequest{
		Name:   "CI/CD Pipeline Key",
		Scopes: []string{"read:users"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(created.Name, created.Scopes, "never expires:", created.ExpiresAt.IsZero())
	fmt.Println("secret printed:", strings.Contains(fmt.Sprintf("%+v", created), created.Key.Secret()))

	ci := newClient(created.Key)
	me, err := ci.Me(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("new key acts as", me.ID, "in", me.Organization.ID)

	if err := api.RevokeAPIKey(ctx, created.ID); err != nil {
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
