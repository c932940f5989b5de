package apiauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/redact"
	"github.com/apiauth/apiauth/transport"
)

// KeyMode says what kind of API key a key is, from its prefix.
type KeyMode int

// The key modes. AudiModal documents the three prefixed ones.
const (
	// KeyOpaque is a key without a known prefix, sent as a bearer token.
	KeyOpaque KeyMode = iota
	// KeyLive is an sk_live_ key: production.
	KeyLive
	// KeyTest is an sk_test_ key: development.
	KeyTest
	// KeyTenant is a tk_ key, scoped to one tenant.
	KeyTenant
)

// String returns the mode's name: "opaque", "live", "test" or "tenant".
func (m KeyMode) String() string {
	switch m {
	case KeyLive:
		return "live"
	case KeyTest:
		return "test"
	case KeyTenant:
		return "tenant"
	case KeyOpaque:
		return "opaque"
	}
	return "KeyMode(" + strconv.Itoa(int(m)) + ")"
}

// Prefix returns the key prefix of the mode ("sk_live_", "sk_test_", "tk_"),
// or "" for KeyOpaque.
func (m KeyMode) Prefix() string {
	switch m {
	case KeyLive:
		return "sk_live_"
	case KeyTest:
		return "sk_test_"
	case KeyTenant:
		return "tk_"
	}
	return ""
}

var prefixedModes = [...]KeyMode{KeyLive, KeyTest, KeyTenant}

// CredentialError reports a credential that could not be used: empty, holding
// whitespace or control characters, of an unknown kind under strict parsing,
// or missing from the environment. It never contains the credential itself.
// It matches [ErrInvalidCredential] under errors.Is.
type CredentialError struct {
	// Source names where the credential came from, for example
	// "environment variable AUDIMODAL_API_KEY" or "API key".
	Source string
	// Reason says what is wrong, for example "is empty" or "is not set".
	Reason string
	// Unset reports that an environment variable was not set at all.
	Unset bool
}

// Error returns "apiauth: <source> <reason>".
func (e *CredentialError) Error() string {
	return "apiauth: " + e.Source + " " + e.Reason
}

// Is reports whether target is [ErrInvalidCredential].
func (e *CredentialError) Is(target error) bool { return target == errkind.InvalidCredential }

// checkSecret validates a secret destined for an HTTP header. It allows the
// visible ASCII characters only: no space, no control character, nothing a
// header could be split or smuggled with. The reason never quotes the value.
func checkSecret(s string) (reason string, ok bool) {
	if s == "" {
		return "is empty", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			return "contains whitespace at byte " + strconv.Itoa(i), false
		case c < 0x20 || c == 0x7f:
			return "contains a control character at byte " + strconv.Itoa(i), false
		case c > 0x7e:
			return "contains a non-ASCII byte at byte " + strconv.Itoa(i), false
		}
	}
	return "", true
}

// secretBox keeps a secret behind a pointer, so that even fmt's raw printing
// of an unexported field holding a credential shows an address, never the
// secret.
type secretBox struct {
	secret string
	// authz is the precomputed Authorization header value, a one-element
	// slice with no spare capacity: attaching it costs no allocation, and an
	// append by anyone downstream copies instead of writing into it.
	authz []string
	// raw is the secret alone as a one-element header value.
	raw []string
}

func newBox(secret, scheme string) *secretBox {
	b := &secretBox{secret: secret, raw: []string{secret}[:1:1]}
	if scheme != "" {
		v := scheme + " " + secret
		b.authz = []string{v}[:1:1]
	}
	return b
}

// APIKey is an API key sent as "Authorization: Bearer <key>". It knows its
// [KeyMode] from its prefix. The zero APIKey is empty and attaches nothing
// but an error.
//
// An APIKey prints redacted under every fmt verb, encoding/json and log/slog:
// at most its prefix and its last four characters. Use [APIKey.Secret] to
// read the key itself.
type APIKey struct {
	b    *secretBox
	mode KeyMode
}

// ParseAPIKey parses an API key. Keys starting with sk_live_, sk_test_ or tk_
// get their [KeyMode]; any other well-formed key is accepted as an opaque
// bearer key (KeyOpaque), so check Mode to accept only documented keys. An
// empty key, one holding whitespace, control or non-ASCII characters, or a
// documented prefix with nothing after it, is refused with a
// [*CredentialError] that does not contain the key.
func ParseAPIKey(key string) (APIKey, error) { return parseAPIKey(key, "API key") }

func parseAPIKey(key string, source string) (APIKey, error) {
	if reason, ok := checkSecret(key); !ok {
		return APIKey{}, &CredentialError{Source: source, Reason: reason}
	}
	mode := KeyOpaque
	for _, m := range prefixedModes {
		if strings.HasPrefix(key, m.Prefix()) {
			mode = m
			break
		}
	}
	if mode != KeyOpaque && len(key) == len(mode.Prefix()) {
		return APIKey{}, &CredentialError{Source: source, Reason: "has nothing after its prefix"}
	}
	return APIKey{b: newBox(key, "Bearer"), mode: mode}, nil
}

// Mode returns the key's mode.
func (k APIKey) Mode() KeyMode { return k.mode }

// Secret returns the key itself. Handle it with care.
func (k APIKey) Secret() string {
	if k.b == nil {
		return ""
	}
	return k.b.secret
}

// String returns the key redacted, for example "sk_live_***cdef".
func (k APIKey) String() string { return redact.Secret(k.Secret(), k.mode.Prefix()) }

// goString returns, for %#v, a Go-syntax-like, redacted form of the key.
func (k APIKey) goString() string {
	return "apiauth.APIKey{mode: " + k.mode.String() + ", key: " + strconv.Quote(k.String()) + "}"
}

// Format prints the key redacted under every verb: %#v uses GoString, all
// other verbs the redacted String.
func (k APIKey) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String(), k.goString()) }

// MarshalJSON encodes the key as its redacted string.
func (k APIKey) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(k.String())), nil }

// LogValue logs the key redacted, with its mode.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mode", k.mode.String()), slog.String("key", k.String()))
}

// Apply sets "Authorization: Bearer <key>" on h. It implements
// [transport.Credential]; the handle it returns is nil, as an API key cannot
// be renewed.
func (k APIKey) Apply(_ context.Context, h http.Header) (any, error) {
	if k.b == nil {
		return nil, &CredentialError{Source: "API key", Reason: "is empty"}
	}
	h["Authorization"] = k.b.authz
	return nil, nil
}

// StaticToken is a bearer token handed out by an administrator (an Artos
// token) or a key that is used as one (a Voltasis API key). It is sent as
// "Authorization: Bearer <token>" and never refreshed. It prints redacted
// like [APIKey].
type StaticToken struct {
	b *secretBox
}

// NewStaticToken validates token and returns it as a [StaticToken]. An empty
// token, or one holding whitespace, control or non-ASCII characters, is
// refused with a [*CredentialError].
func NewStaticToken(token string) (StaticToken, error) {
	return newStaticToken(token, "bearer token")
}

func newStaticToken(token, source string) (StaticToken, error) {
	if reason, ok := checkSecret(token); !ok {
		return StaticToken{}, &CredentialError{Source: source, Reason: reason}
	}
	return StaticToken{b: newBox(token, "Bearer")}, nil
}

// Secret returns the token itself. Handle it with care.
func (t StaticToken) Secret() string {
	if t.b == nil {
		return ""
	}
	return t.b.secret
}

// String returns the token redacted, for example "***WXYZ".
func (t StaticToken) String() string { return redact.Secret(t.Secret(), "") }

// goString returns, for %#v, a Go-syntax-like, redacted form of the token.
func (t StaticToken) goString() string {
	return "apiauth.StaticToken{token: " + strconv.Quote(t.String()) + "}"
}

// Format prints the token redacted under every verb.
func (t StaticToken) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, t.String(), t.goString())
}

// MarshalJSON encodes the token as its redacted string.
func (t StaticToken) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(t.String())), nil }

// LogValue logs the token redacted.
func (t StaticToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Apply sets "Authorization: Bearer <token>" on h. It implements
// [transport.Credential]; the handle it returns is nil.
func (t StaticToken) Apply(_ context.Context, h http.Header) (any, error) {
	if t.b == nil {
		return nil, &CredentialError{Source: "bearer token", Reason: "is empty"}
	}
	h["Authorization"] = t.b.authz
	return nil, nil
}

// HeaderPair is the Artanis credential: an API key sent as x-api-key and the
// organization slug sent as x-org-slug. The slug is not secret and prints in
// full; the key prints redacted.
type HeaderPair struct {
	b    *secretBox
	slug []string
}

// NewHeaderPair validates an Artanis API key and organization slug. Either
// being empty or holding whitespace, control or non-ASCII characters is
// refused with a [*CredentialError] that does not contain the key.
func NewHeaderPair(apiKey, orgSlug string) (HeaderPair, error) {
	return newHeaderPair(apiKey, orgSlug, "x-api-key")
}

func newHeaderPair(apiKey, orgSlug, source string) (HeaderPair, error) {
	if reason, ok := checkSecret(apiKey); !ok {
		return HeaderPair{}, &CredentialError{Source: source, Reason: reason}
	}
	if reason, ok := checkSecret(orgSlug); !ok {
		return HeaderPair{}, &CredentialError{Source: "x-org-slug", Reason: reason}
	}
	return HeaderPair{b: newBox(apiKey, ""), slug: []string{orgSlug}[:1:1]}, nil
}

// Secret returns the API key itself. Handle it with care.
func (p HeaderPair) Secret() string {
	if p.b == nil {
		return ""
	}
	return p.b.secret
}

// OrgSlug returns the organization slug.
func (p HeaderPair) OrgSlug() string {
	if len(p.slug) == 0 {
		return ""
	}
	return p.slug[0]
}

// String returns the pair with the key redacted.
func (p HeaderPair) String() string {
	return "x-api-key=" + redact.Secret(p.Secret(), "") + " x-org-slug=" + p.OrgSlug()
}

// goString returns, for %#v, a Go-syntax-like, redacted form of the pair.
func (p HeaderPair) goString() string {
	return "apiauth.HeaderPair{apiKey: " + strconv.Quote(redact.Secret(p.Secret(), "")) +
		", orgSlug: " + strconv.Quote(p.OrgSlug()) + "}"
}

// Format prints the pair redacted under every verb.
func (p HeaderPair) Format(f fmt.State, verb rune) { formatRedacted(f, verb, p.String(), p.goString()) }

// MarshalJSON encodes the pair as {"api_key": redacted, "org_slug": slug}.
func (p HeaderPair) MarshalJSON() ([]byte, error) {
	return []byte(`{"api_key":` + strconv.Quote(redact.Secret(p.Secret(), "")) +
		`,"org_slug":` + strconv.Quote(p.OrgSlug()) + `}`), nil
}

// LogValue logs the pair with the key redacted.
func (p HeaderPair) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_key", redact.Secret(p.Secret(), "")),
		slog.String("org_slug", p.OrgSlug()))
}

// HeaderNames returns the headers Apply sets. It implements
// [transport.HeaderNamer].
func (p HeaderPair) HeaderNames() []string { return []string{"X-Api-Key", "X-Org-Slug"} }

// Apply sets x-api-key and x-org-slug on h. It implements
// [transport.Credential]; the handle it returns is nil.
func (p HeaderPair) Apply(_ context.Context, h http.Header) (any, error) {
	if p.b == nil {
		return nil, &CredentialError{Source: "x-api-key", Reason: "is empty"}
	}
	h["X-Api-Key"] = p.b.raw
	h["X-Org-Slug"] = p.slug
	return nil, nil
}

// The credential types plug into the transport layers.
var (
	_ transport.Credential  = APIKey{}
	_ transport.Credential  = StaticToken{}
	_ transport.Credential  = HeaderPair{}
	_ transport.HeaderNamer = HeaderPair{}
)

// formatRedacted writes the redacted form for verb: GoString for %#v,
// otherwise the String form, quoted for %q. It never falls back to fmt's
// field-by-field printing, which would show the secret.
func formatRedacted(f fmt.State, verb rune, s, gos string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(gos))
	case verb == 'q':
		_, _ = f.Write([]byte(strconv.Quote(s)))
	default:
		_, _ = f.Write([]byte(s))
	}
}

// lookupEnv reads a required environment variable. Errors name the
// variable, never its value.
func lookupEnv(name string) (string, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", &CredentialError{Source: "environment variable " + name, Reason: "is not set", Unset: true}
	}
	return v, nil
}

// APIKeyFromEnv parses the API key held by the environment variable name
// (for example [EnvAudiModalKey]) with [ParseAPIKey]. An unset or invalid
// variable is a [*CredentialError] naming the variable, never its value.
func APIKeyFromEnv(name string) (APIKey, error) {
	v, err := lookupEnv(name)
	if err != nil {
		return APIKey{}, err
	}
	return parseAPIKey(v, "environment variable "+name)
}

// StaticTokenFromEnv reads a bearer token from the environment variable name
// (for example [EnvArtosToken] or [EnvVoltasisAPIKey]). An unset or invalid
// variable is a [*CredentialError] naming the variable, never its value.
func StaticTokenFromEnv(name string) (StaticToken, error) {
	v, err := lookupEnv(name)
	if err != nil {
		return StaticToken{}, err
	}
	return newStaticToken(v, "environment variable "+name)
}

// HeaderPairFromEnv builds an Artanis [HeaderPair] from the API key in the
// environment variable name (for example [EnvArtanisAPIKey]) and orgSlug.
func HeaderPairFromEnv(name, orgSlug string) (HeaderPair, error) {
	v, err := lookupEnv(name)
	if err != nil {
		return HeaderPair{}, err
	}
	return newHeaderPair(v, orgSlug, "environment variable "+name)
}
