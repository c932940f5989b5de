package apiauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

// A token source given no HTTPClient sends its token requests over the
// base transport of the Client it serves: a TLS setup made once in
// ClientOptions.Base (here the fake's certificate) holds for the token
// endpoint too. Before, the first call failed with "x509: certificate
// signed by unknown authority".
func TestTokenSourceRidesTheClientTransport(t *testing.T) {
	ctx := context.Background()
	srv := apiauthtest.NewServer(t)
	base := srv.Client().Transport

	src, err := apiauth.NewTokenEndpoint(srv.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID, nil)
	if err != nil {
		t.Fatal(err)
	}
	artosCache := apiauth.NewTokenCache(src, nil)
	defer artosCache.Close()
	artos, err := apiauth.NewClient(srv.URL(apiauthtest.Artos), artosCache, &apiauth.ClientOptions{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := artos.Get(ctx, "api/v1/documents/", nil); err != nil {
		t.Fatalf("Artos over the client's TLS transport: %v", err)
	}

	login, err := apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal),
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessions := apiauth.NewTokenCache(login, nil)
	defer sessions.Close()
	audimodal, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), sessions, &apiauth.ClientOptions{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audimodal.Get(ctx, "v1/files", nil); err != nil {
		t.Fatalf("AudiModal login over the client's TLS transport: %v", err)
	}
	if st := srv.Stats(); st.Artos.TokensIssued != 1 {
		t.Errorf("Artos tokens issued = %d, want 1", st.Artos.TokensIssued)
	}
}

// An error that passed through the token source, the cache, the auth layer
// and the client says "apiauth: " once, and still matches every kind on
// its chain.
func TestErrorsArePrefixedOnce(t *testing.T) {
	ctx := context.Background()
	srv := apiauthtest.NewServer(t)
	login, err := apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal),
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: "wrong-password-0123", TenantID: apiauthtest.AudiModalTenantID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessions := apiauth.NewTokenCache(login, nil)
	defer sessions.Close()
	c, err := apiauth.NewClient(srv.URL(apiauthtest.AudiModal), sessions, &apiauth.ClientOptions{Base: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, "v1/files", nil)
	var apiErr *apiauth.Error
	if !errors.Is(err, apiauth.ErrTokenRefresh) || !errors.Is(err, apiauth.ErrUnauthorized) || !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want ErrTokenRefresh wrapping the 401 *Error", err)
	}
	if n := strings.Count(err.Error(), "apiauth: "); n != 1 {
		t.Fatalf("%q says \"apiauth: \" %d times, want once", err, n)
	}
	t.Log(err)
}
