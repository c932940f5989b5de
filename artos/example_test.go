package artos_test

import (
	"context"
	"fmt"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artos"
)

// A token cache in front of POST /get-access-token keeps a JWT fresh; the
// typed client lists the organization's documents.
func ExampleClient_ListDocuments() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()

	// Against the real API: artos.NewTokenSource("", userID, nil) and
	// artos.NewClient("", cache, nil).
	src, err := artos.NewTokenSource(srv.URL(apiauthtest.Artos), apiauthtest.ArtosUserID, nil)
	if err != nil {
		panic(err)
	}
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()
	api, err := artos.NewClient(srv.URL(apiauthtest.Artos), cache, &apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}

	status, err := api.SearchStatus(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("search:", status.Status)
	docs, err := api.ListDocuments(ctx)
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
