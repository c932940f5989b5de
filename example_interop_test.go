package apiauth_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

// An oauth2 token source (here a static one; in real code
// clientcredentials.Config.TokenSource) behind apiauth's cache: one fetch,
// then the cached token.
func ExampleFromOAuth2() {
	var fetches int
	src := oauth2TokenSourceFunc(func() (*oauth2.Token, error) {
		fetches++
		return &oauth2.Token{AccessToken: "from-oauth2", Expiry: time.Now().Add(time.Hour)}, nil
	})
	cache := apiauth.NewTokenCache(apiauth.FromOAuth2(src), nil)
	defer cache.Close()
	for range 3 {
		tok, err := cache.Token(context.Background())
		if err != nil {
			panic(err)
		}
		fmt.Println(tok.AccessToken == "from-oauth2", tok.Type())
	}
	fmt.Println("fetches:", fetches)
	// Output:
	// true Bearer
	// true Bearer
	// true Bearer
	// fetches: 1
}

// A TokenCache handed to code that takes an oauth2.TokenSource, here
// oauth2.Transport: the login, refresh and backoff stay apiauth's.
func ExampleTokenCache_OAuth2() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	src, err := apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal), apiauth.Login{
		Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID,
	}, &apiauth.SourceOptions{HTTPClient: srv.Client()})
	if err != nil {
		panic(err)
	}
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()

	hc := &http.Client{Transport: &oauth2.Transport{Source: cache.OAuth2(context.Background()), Base: srv.Client().Transport}}
	for range 2 {
		resp, err := hc.Get(srv.URL(apiauthtest.AudiModal) + "/v1/files")
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	fmt.Println("logins:", srv.Stats().AudiModal.Logins)
	// Output:
	// 200 OK
	// 200 OK
	// logins: 1
}

// AudiModal's email + password login behind a cache: one login, then the
// session token on every request; the cache renews it with the refresh
// token before it expires.
func ExampleNewLoginSource() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	login := apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}
	fmt.Println(login) // the password never prints
	// No SourceOptions: the source sends its logins over the Base of the
	// client it serves (here the fake's TLS setup).
	src, err := apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal), login, nil)
	if err != nil {
		panic(err)
	}
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()
	client, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), cache, &apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		panic(err)
	}
	var files struct {
		TenantID string `json:"tenant_id"`
	}
	for range 3 {
		if _, err := client.Get(context.Background(), "v1/files", &files); err != nil {
			panic(err)
		}
	}
	fmt.Println(files.TenantID, "logins:", srv.Stats().AudiModal.Logins)
	// Output:
	// apiauth.Login{email: "user@company.com", password: "***", tenant: "tenant_123"}
	// tenant_123 logins: 1
}
