package apiauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/apiauth/apiauth"
)

func ExampleParseAPIKey() {
	key, err := apiauth.ParseAPIKey("sk_live_1234567890abcdef0123")
	if err != nil {
		panic(err)
	}
	fmt.Println(key.Mode(), key) // prints redacted

	_, err = apiauth.ParseAPIKey("sk_live_12345\r\nX-Injected: 1")
	fmt.Println(errors.Is(err, apiauth.ErrInvalidCredential), err)
	// Output:
	// live sk_live_***0123
	// true apiauth: API key contains a control character at byte 13
}

func ExampleNewHeaderPair() {
	pair, err := apiauth.NewHeaderPair("artanis_0123456789abcdefWXYZ", "my-org")
	if err != nil {
		panic(err)
	}
	fmt.Println(pair)
	// Output: x-api-key=***WXYZ x-org-slug=my-org
}

func ExampleNewStaticToken() {
	tok, err := apiauth.NewStaticToken("eyJhbGciOiJIUzI1NiJ9.e30.ZXhhbXBsZS1zaWduYXR1cmU")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v %+v %#v\n", tok, tok, tok)
	// Output: ***1cmU ***1cmU apiauth.StaticToken{token: "***1cmU"}
}

func ExampleNewTokenCache() {
	fetches := 0
	src := apiauth.TokenSourceFunc(func(ctx context.Context) (*apiauth.Token, error) {
		fetches++
		return &apiauth.Token{AccessToken: fmt.Sprintf("token-%d", fetches), Expiry: time.Now().Add(time.Hour)}, nil
	})
	cache := apiauth.NewTokenCache(src, nil)
	defer cache.Close()

	for range 3 {
		tok, err := cache.Token(context.Background())
		if err != nil {
			panic(err)
		}
		fmt.Println(tok.AccessToken == "token-1")
	}
	fmt.Println("fetches:", fetches)
	// Output:
	// true
	// true
	// true
	// fetches: 1
}

func ExampleNewClient() {
	// A stand-in for the AudiModal API, mounted under a path prefix.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk_test_1234567890abcdef" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"INVALID_API_KEY","message":"Invalid or expired API key"}}`)
			return
		}
		fmt.Fprintf(w, `{"status":"healthy","tenant_id":%q,"path":%q}`, r.Header.Get("X-Tenant-ID"), r.URL.Path)
	}))
	defer srv.Close()

	key, _ := apiauth.ParseAPIKey("sk_test_1234567890abcdef")
	client, err := apiauth.NewClient(srv.URL+"/audimodal", key, &apiauth.ClientOptions{TenantHeader: "X-Tenant-ID"})
	if err != nil {
		panic(err)
	}
	var health struct {
		Status   string `json:"status"`
		TenantID string `json:"tenant_id"`
		Path     string `json:"path"`
	}
	ctx := apiauth.WithTenant(context.Background(), "tenant_456")
	if _, err := client.Get(ctx, "v1/health", &health); err != nil {
		panic(err)
	}
	fmt.Println(health.Status, health.TenantID, health.Path)

	wrongKey, _ := apiauth.ParseAPIKey("sk_test_wrong")
	other, _ := apiauth.NewClient(srv.URL+"/audimodal", wrongKey, nil)
	_, err = other.Get(context.Background(), "v1/health", nil)
	fmt.Println(errors.Is(err, apiauth.ErrInvalidAPIKey), errors.Is(err, apiauth.ErrUnauthorized))
	// Output:
	// healthy tenant_456 /audimodal/v1/health
	// true true
}

func ExampleNewHTTPClient() {
	// A stand-in for the Artanis API: it wants the x-api-key + x-org-slug
	// pair.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "ak_1234567890abcdef" || r.Header.Get("X-Org-Slug") != "acme" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[{"slug":"welcome"}]`)
	}))
	defer srv.Close()

	pair, _ := apiauth.NewHeaderPair("ak_1234567890abcdef", "acme")
	// A plain *http.Client, as a generated client or another library
	// takes it: every request it sends to srv carries the pair.
	hc, err := apiauth.NewHTTPClient(srv.URL, pair, nil)
	if err != nil {
		panic(err)
	}
	resp, err := hc.Get(srv.URL + "/api/prompts?projectSlug=web")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, apiauth.CheckResponse(resp) == nil)
	// Output:
	// 200 true
}
