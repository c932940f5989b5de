package apiauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/transport"
)

// startFake starts the fake of the four families over TLS and closes it
// when the test ends.
func startFake(t *testing.T, cfg apiauthtest.Config) *apiauthtest.Server {
	t.Helper()
	srv := apiauthtest.Start(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// fakeClient returns a client for family f of srv over the wire, trusting
// the fake's certificate. opts may be nil.
func fakeClient(t *testing.T, srv *apiauthtest.Server, f apiauthtest.Family, cred transport.Credential, opts *apiauth.ClientOptions) *apiauth.Client {
	t.Helper()
	var o apiauth.ClientOptions
	if opts != nil {
		o = *opts
	}
	o.Base = srv.Client().Transport
	c, err := apiauth.NewClient(srv.URL(f), cred, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inProcess hands requests straight to the fake's handler, with no network:
// inside a testing/synctest bubble the whole stack (token cache, retry
// waits, the fake's clock, JWT lifetimes and rate-limit windows) then runs
// on the bubble's virtual clock, so hours of token lifetimes take no real
// time. The fake itself must be started outside the bubble.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RemoteAddr = "192.0.2.10:40000"
	r.RequestURI = req.URL.RequestURI()
	r.Host = req.URL.Host
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// inProcessClient is fakeClient over inProcess.
func inProcessClient(t *testing.T, srv *apiauthtest.Server, f apiauthtest.Family, cred transport.Credential, opts *apiauth.ClientOptions) *apiauth.Client {
	t.Helper()
	var o apiauth.ClientOptions
	if opts != nil {
		o = *opts
	}
	o.Base = inProcess{srv}
	c, err := apiauth.NewClient(srv.URL(f), cred, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// must takes a constructor's two results and returns a function that
// fails the test on the error, or returns the value:
// must(apiauth.ParseAPIKey(k))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// apiError returns the *apiauth.Error inside err, failing the test when
// there is none.
func apiError(t *testing.T, err error) *apiauth.Error {
	t.Helper()
	var e *apiauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *apiauth.Error inside", err, err)
	}
	return e
}

// sentinels names the Err* sentinels for messages.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrUnauthorized", apiauth.ErrUnauthorized},
	{"ErrForbidden", apiauth.ErrForbidden},
	{"ErrNotFound", apiauth.ErrNotFound},
	{"ErrRateLimited", apiauth.ErrRateLimited},
	{"ErrTokenExpired", apiauth.ErrTokenExpired},
	{"ErrInvalidAPIKey", apiauth.ErrInvalidAPIKey},
	{"ErrInsufficientPermissions", apiauth.ErrInsufficientPermissions},
	{"ErrServer", apiauth.ErrServer},
	{"ErrInvalidCredential", apiauth.ErrInvalidCredential},
}

// checkKinds asserts that err matches exactly the sentinels in want among
// those listed in sentinels.
func checkKinds(t *testing.T, err error, want ...error) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	for _, s := range sentinels {
		wanted := false
		for _, w := range want {
			wanted = wanted || w == s.err
		}
		if got := errors.Is(err, s.err); got != wanted {
			t.Errorf("errors.Is(err, %s) = %v, want %v; err = %v", s.name, got, wanted, err)
		}
	}
}

// printedForms renders v every way a program might print or log it: the
// fmt verbs, encoding/json, and log/slog's text and JSON handlers.
func printedForms(t *testing.T, v any) map[string]string {
	t.Helper()
	forms := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		forms[verb] = fmt.Sprintf(verb, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	forms["json"] = string(b)
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("value", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("value", "v", v)
	forms["slog text"], forms["slog json"] = text.String(), js.String()
	return forms
}

// assertHides fails if any printed form of v holds one of the secrets.
func assertHides(t *testing.T, v any, secrets ...string) {
	t.Helper()
	for form, s := range printedForms(t, v) {
		for _, secret := range secrets {
			if secret == "" {
				t.Fatal("assertHides: empty secret")
			}
			if strings.Contains(s, secret) {
				t.Errorf("%s form of %T shows a secret: %s", form, v, s)
			}
		}
	}
}
