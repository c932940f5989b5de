// Package voltasis is the Voltasis API over apiauth: its base URL,
// environment variable and organization header, and typed calls for the
// caller's identity and the organization's API keys.
//
// Authenticate with the API key as a bearer token
// ([apiauth.StaticTokenFromEnv] with [EnvAPIKey]). To act in another
// organization, name it per request with [apiauth.WithTenant] (header
// [TenantHeader]); the API refuses that (403 FORBIDDEN) unless the key has
// the permission.
//
// Errors are apiauth's: an [*apiauth.Error] with Voltasis' code, matching
// [apiauth.ErrUnauthorized] for UNAUTHORIZED (missing, malformed, expired or
// revoked key), [apiauth.ErrForbidden] for FORBIDDEN (missing scope, another
// organization without the permission), [apiauth.ErrNotFound] for 404 and
// [apiauth.ErrRateLimited] for 429.
package voltasis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/family"
	"github.com/apiauth/apiauth/transport"
)

const (
	// BaseURL is the Voltasis API. Its paths start with /v1 or /api/v1, so
	// the base URL has no version.
	BaseURL = "https://api.voltasis.com"
	// EnvAPIKey is the environment variable Voltasis documents for the API
	// key.
	EnvAPIKey = "VOLTASIS_API_KEY"
	// TenantHeader is X-Organization-ID.
	TenantHeader = "X-Organization-ID"
)

// Client is the typed Voltasis API over an [apiauth.Client]. The zero value
// holds no client: its methods return an error. It is safe for concurrent
// use, as its apiauth.Client is.
type Client struct {
	*apiauth.Client
}

// NewClient returns a client for the Voltasis API at baseURL ([BaseURL] when
// empty), with TenantHeader preset to [TenantHeader]. opts may be nil; it is
// copied.
func NewClient(baseURL string, cred transport.Credential, opts *apiauth.ClientOptions) (Client, error) {
	c, err := family.NewClient(baseURL, BaseURL, TenantHeader, cred, opts)
	return Client{c}, err
}

// User is the caller as GET /v1/auth/me describes it.
type User struct {
	ID           string       `json:"id"`
	Email        string       `json:"email"`
	Organization Organization `json:"organization"`
}

// Organization is the organization a request acted on: the key's own, or
// the X-Organization-ID override.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// KeyRequest describes an API key to create.
type KeyRequest struct {
	// Name is the key's display name. Required.
	Name string
	// Scopes are the key's permissions, for example "read:users"; the API
	// refuses scopes the calling key lacks. Nil sends none.
	Scopes []string
	// ExpiresAt is when the key stops working. Zero means never (until
	// revoked).
	ExpiresAt time.Time
}

// APIKey is an API key as GET /api/v1/api-keys lists it, without its
// secret.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a key that never expires.
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatedKey is a key just created, with its secret: the API shows it once.
// Key is an [apiauth.StaticToken], so it prints redacted under fmt,
// encoding/json and log/slog, and can be passed to [NewClient] as it is.
type CreatedKey struct {
	APIKey
	// Key is the new key's secret; Key.Secret() reads it.
	Key apiauth.StaticToken `json:"key"`
}

// createdWire is the answer to POST /api/v1/api-keys.
type createdWire struct {
	APIKey
	Key string `json:"key"`
}

// Me returns the caller and the organization the request acts on: GET
// /v1/auth/me, unwrapped from its {"data": …} envelope. It is the call to
// test a key with.
func (v Client) Me(ctx context.Context) (*User, error) {
	var out family.Data[User]
	if err := family.Get(ctx, v.Client, "voltasis", "v1/auth/me", &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// CreateAPIKey creates an API key: POST /api/v1/api-keys with name, scopes
// and expires_at (RFC 3339, UTC; omitted when zero). If the answer lacks a
// usable secret, CreateAPIKey returns the key (its ID, to revoke it)
// together with an error.
func (v Client) CreateAPIKey(ctx context.Context, r KeyRequest) (*CreatedKey, error) {
	if r.Name == "" {
		return nil, errors.New("voltasis: API key name is empty")
	}
	body := struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes,omitempty"`
		ExpiresAt string   `json:"expires_at,omitempty"`
	}{Name: r.Name, Scopes: r.Scopes}
	if !r.ExpiresAt.IsZero() {
		body.ExpiresAt = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	var out family.Data[createdWire]
	if err := family.Post(ctx, v.Client, "voltasis", "api/v1/api-keys", body, &out); err != nil {
		return nil, err
	}
	created := &CreatedKey{APIKey: out.Data.APIKey}
	key, err := out.Data.secret()
	if err != nil {
		return created, err
	}
	created.Key = key
	return created, nil
}

// secret validates the new key's secret. The error names the key by its ID
// (quoted: it comes from the server), never by its secret.
func (w *createdWire) secret() (apiauth.StaticToken, error) {
	key, err := apiauth.NewStaticToken(w.Key)
	if err != nil {
		return apiauth.StaticToken{}, fmt.Errorf("voltasis: secret of created API key %s: %w", strconv.QuoteToASCII(w.ID), err)
	}
	return key, nil
}

// ListAPIKeys lists the organization's active API keys, without secrets:
// GET /api/v1/api-keys.
func (v Client) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var out family.Data[[]APIKey]
	if err := family.Get(ctx, v.Client, "voltasis", "api/v1/api-keys", &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RevokeAPIKey revokes the key with the given ID: DELETE
// /api/v1/api-keys/{id}, the ID escaped as one path segment. A key that is
// unknown or already revoked is an error matching [apiauth.ErrNotFound].
func (v Client) RevokeAPIKey(ctx context.Context, id string) error {
	seg, err := family.Segment("voltasis", "API key ID", id)
	if err != nil {
		return err
	}
	c, err := family.Check(v.Client, "voltasis")
	if err != nil {
		return err
	}
	_, err = c.Delete(ctx, "api/v1/api-keys/"+seg, nil)
	return err
}
