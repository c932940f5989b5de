package artanis_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
)

// One key, its default organization in the header pair, and another
// organization picked per request.
func ExampleClient_ListPrompts() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()

	pair, err := apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug)
	if err != nil {
		panic(err)
	}
	// NewClient presets TenantHeader to artanis.TenantHeader.
	api, err := artanis.NewClient(srv.URL(apiauthtest.Artanis), pair, &apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}

	prompts, err := api.ListPrompts(ctx, apiauthtest.ArtanisProjectSlug)
	if err != nil {
		panic(err)
	}
	fmt.Println(apiauthtest.ArtanisOrgSlug, len(prompts), prompts[0].Slug)

	second := apiauth.WithTenant(ctx, apiauthtest.ArtanisSecondOrgSlug)
	prompts, err = api.ListPrompts(second, apiauthtest.ArtanisSecondProjectSlug)
	if err != nil {
		panic(err)
	}
	fmt.Println(apiauthtest.ArtanisSecondOrgSlug, len(prompts), prompts[0].Project)

	_, err = api.ListPrompts(ctx, apiauthtest.ArtanisSecondProjectSlug)
	fmt.Println("wrong organization:", errors.Is(err, apiauth.ErrForbidden))
	// Output:
	// my-org 2 welcome
	// second-org 2 second-project
	// wrong organization: true
}
