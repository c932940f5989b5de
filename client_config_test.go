package apiauth

import (
	"context"
	"errors"
	"testing"

	"github.com/apiauth/apiauth/transport"
)

// A plain-http base URL to a host that is not loopback can never carry the
// credential: NewClient says so at once, typed, instead of every request
// failing later. Loopback, AllowInsecure and public (nil-credential)
// clients are fine.
func TestNewClientRefusesPlainHTTPBaseURL(t *testing.T) {
	key, _ := NewStaticToken("tok_0123456789abcdef")
	_, err := NewClient("http://api.example.com/v1", key, nil)
	var ie *transport.InsecureError
	if !errors.Is(err, ErrInsecureTransport) || !errors.As(err, &ie) || ie.Host != "api.example.com" {
		t.Fatalf("http base URL: err = %v, want a *transport.InsecureError for api.example.com", err)
	}
	for _, tc := range []struct {
		base string
		cred transport.Credential
		opts *ClientOptions
	}{
		{"http://127.0.0.1:8080/v1", key, nil},
		{"http://localhost:8080/v1", key, nil},
		{"http://[::1]:8080/v1", key, nil},
		{"http://api.example.com/v1", key, &ClientOptions{AllowInsecure: true}},
		{"http://api.example.com/v1", nil, nil},
		{"https://api.example.com/v1", key, nil},
	} {
		if _, err := NewClient(tc.base, tc.cred, tc.opts); err != nil {
			t.Errorf("NewClient(%q) = %v, want success", tc.base, err)
		}
	}
	if _, err := NewClient("http://localhoſt/v1", key, nil); !errors.Is(err, ErrInsecureTransport) {
		t.Errorf("localhoſt (U+017F) taken for loopback: err = %v", err)
	}
}

// A token endpoint's loopback check is the same one: the host localhoſt,
// which only Unicode case folding takes for localhost, is not loopback.
func TestTokenEndpointLoopbackIsASCIIOnly(t *testing.T) {
	for _, u := range []string{"http://localhoſt:8080/artos/get-access-token", "http://LOCALHOſT/x"} {
		if _, err := NewTokenEndpoint(u, "user", nil); !errors.Is(err, ErrInsecureTransport) {
			t.Errorf("NewTokenEndpoint(%q) = %v, want ErrInsecureTransport", u, err)
		}
	}
	if _, err := NewTokenEndpoint("http://LocalHost:8080/artos/get-access-token", "user", nil); err != nil {
		t.Errorf("loopback endpoint refused: %v", err)
	}
}

// A base URL or a request path that cannot work is a configuration error,
// not an invalid credential.
func TestBadURLsAreConfigErrors(t *testing.T) {
	key, _ := NewStaticToken("tok_0123456789abcdef")
	for _, base := range []string{"not a url", "/relative", "ftp://api.example.com", "https://", "::"} {
		_, err := NewClient(base, key, nil)
		if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrInvalidCredential) {
			t.Errorf("NewClient(%q) = %v, want ErrInvalidConfig only", base, err)
		}
	}
	if _, err := NewTokenEndpoint("relative/path", "user", nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewTokenEndpoint(relative) = %v, want ErrInvalidConfig", err)
	}
	c, err := NewClient("https://api.example.com/v1", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "%zz", nil)
	if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrInvalidCredential) {
		t.Errorf("bad path: err = %v, want ErrInvalidConfig only", err)
	}
}
