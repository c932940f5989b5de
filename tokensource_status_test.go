package apiauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// statusRT answers every request with status and a JSON body holding a
// token, as a hostile or misconfigured token endpoint could.
type statusRT struct {
	status int
	body   string
}

func (rt statusRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if rt.status >= 300 && rt.status < 400 {
		h.Set("Location", req.URL.String()) // same origin: still not followed
	}
	return &http.Response{StatusCode: rt.status, Header: h, Body: io.NopCloser(strings.NewReader(rt.body)), Request: req, ContentLength: -1}, nil
}

// TestTokenSourcesRefuseNon2xx: every token source (Artos token endpoint,
// AudiModal login and refresh) refuses a token carried by an answer that is
// not 2xx, with an *Error of that status that holds no body (issue 13 row 9).
func TestTokenSourcesRefuseNon2xx(t *testing.T) {
	const secret = "tok-0123456789abcdef"
	body := `{"access_token":"` + secret + `","refresh_token":"r2","expires_in":3600}`
	for _, status := range []int{100, 101, 199, 300, 301, 302, 303, 304, 307, 308, 399} {
		opts := &SourceOptions{HTTPClient: &http.Client{Transport: statusRT{status, body}}}
		art, err := NewTokenEndpoint("https://artos.example/get-access-token", "user-1", opts)
		if err != nil {
			t.Fatal(err)
		}
		login, err := NewLoginSource("https://audimodal.example", Login{Email: "a@example.com", Password: "pw"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		for name, fetch := range map[string]func() (*Token, error){
			"artos": func() (*Token, error) { return art.Token(context.Background()) },
			"login": func() (*Token, error) { return login.Token(context.Background()) },
			"refresh": func() (*Token, error) {
				return login.RenewToken(context.Background(), &Token{AccessToken: "old", RefreshToken: "r1"})
			},
		} {
			tok, err := fetch()
			var apiErr *Error
			if tok != nil || !errors.As(err, &apiErr) || apiErr.StatusCode != status {
				t.Errorf("%s, status %d: %v, %v; want an *Error with status %d", name, status, tok, err, status)
				continue
			}
			if len(apiErr.Body) != 0 || strings.Contains(err.Error(), secret) {
				t.Errorf("%s, status %d: the error keeps the body: %v", name, status, err)
			}
		}
	}
}

// TestTokenSources2xx: any 2xx answer still carries a token.
func TestTokenSources2xx(t *testing.T) {
	for _, status := range []int{200, 201, 203} {
		opts := &SourceOptions{HTTPClient: &http.Client{Transport: statusRT{status, `{"access_token":"tok-1"}`}}}
		art, _ := NewTokenEndpoint("https://artos.example/get-access-token", "user-1", opts)
		if tok, err := art.Token(context.Background()); err != nil || tok.AccessToken != "tok-1" {
			t.Errorf("status %d: %v, %v", status, tok, err)
		}
	}
}

// TestCacheRefusesNon2xxToken: through a cache, the refused answer is a
// failed refresh (ErrTokenRefresh), not an adopted token.
func TestCacheRefusesNon2xxToken(t *testing.T) {
	opts := &SourceOptions{HTTPClient: &http.Client{Transport: statusRT{302, `{"access_token":"tok-1"}`}}}
	art, _ := NewTokenEndpoint("https://artos.example/get-access-token", "user-1", opts)
	c := NewTokenCache(art, nil)
	defer c.Close()
	tok, err := c.Token(context.Background())
	var apiErr *Error
	if tok != nil || !errors.Is(err, ErrTokenRefresh) || !errors.As(err, &apiErr) || apiErr.StatusCode != 302 {
		t.Fatalf("%v, %v; want ErrTokenRefresh wrapping *Error{302}", tok, err)
	}
}
