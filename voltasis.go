package apiauth

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Voltasis is the typed Voltasis API over a [Client]: who am I, and the
// API keys of the organization.
//
// Build the client with [VoltasisBaseURL] (or the fake's URL), a
// [StaticToken] holding the API key (see [StaticTokenFromEnv] and
// [EnvVoltasisAPIKey]) and, to act in another organization,
// TenantHeader [VoltasisTenantHeader] with [WithTenant] or
// [ClientOptions.Tenant].
//
// Errors come from [Client.Do]: an [*Error] with Voltasis' code, matching
// [ErrUnauthorized] for UNAUTHORIZED (missing, malformed, expired or revoked
// key), [ErrForbidden] for FORBIDDEN (missing scope, another organization
// without the permission), [ErrNotFound] for 404 and [ErrRateLimited] for
// 429.
//
// The zero value holds no client: its methods return an error. Voltasis is
// safe for concurrent use, as its Client is.
type Voltasis struct {
	*Client
}

// VoltasisUser is the caller as GET /v1/auth/me describes it.
type VoltasisUser struct {
	ID           string               `json:"id"`
	Email        string               `json:"email"`
	Organization VoltasisOrganization `json:"organization"`
}

// VoltasisOrganization is the organization a request acted on: the key's
// own, or the X-Organization-ID override.
type VoltasisOrganization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// VoltasisKeyRequest describes an API key to create.
type VoltasisKeyRequest struct {
	// Name is the key's display name. Required.
	Name string
	// Scopes are the key's permissions, for example "read:users"; the API
	// refuses scopes the calling key lacks. Nil sends none.
	Scopes []string
	// ExpiresAt is when the key stops working. Zero means never (until
	// revoked).
	ExpiresAt time.Time
}

// VoltasisAPIKey is an API key as GET /api/v1/api-keys lists it, without
// its secret.
type VoltasisAPIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a key that never expires.
	ExpiresAt time.Time `json:"expires_at"`
}

// VoltasisCreatedKey is a key just created, with its secret: the API shows
// it once. Key is a [StaticToken], so it prints redacted under fmt,
// encoding/json and log/slog, and can be passed to [NewClient] as it is.
type VoltasisCreatedKey struct {
	VoltasisAPIKey
	// Key is the new key's secret; Key.Secret() reads it.
	Key StaticToken `json:"key"`
}

// voltasisCreatedWire is the answer to POST /api/v1/api-keys.
type voltasisCreatedWire struct {
	VoltasisAPIKey
	Key string `json:"key"`
}

// Me returns the caller and the organization the request acts on: GET
// /v1/auth/me, unwrapped from its {"data": …} envelope. It is the call to
// test a key with.
func (v Voltasis) Me(ctx context.Context) (*VoltasisUser, error) {
	var out familyData[VoltasisUser]
	if err := familyGet(ctx, v.Client, "Voltasis", "v1/auth/me", &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// CreateAPIKey creates an API key: POST /api/v1/api-keys with name, scopes
// and expires_at (RFC 3339, UTC; omitted when zero). If the answer lacks a
// usable secret, CreateAPIKey returns the key (its ID, to revoke
// it) together with an error.
func (v Voltasis) CreateAPIKey(ctx context.Context, r VoltasisKeyRequest) (*VoltasisCreatedKey, error) {
	if r.Name == "" {
		return nil, errors.New("apiauth: Voltasis: API key name is empty")
	}
	body := struct {
		Name      string   `json:"name"`
		Scopes    []string `json:"scopes,omitempty"`
		ExpiresAt string   `json:"expires_at,omitempty"`
	}{Name: r.Name, Scopes: r.Scopes}
	if !r.ExpiresAt.IsZero() {
		body.ExpiresAt = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	var out familyData[voltasisCreatedWire]
	if err := familyPost(ctx, v.Client, "Voltasis", "api/v1/api-keys", body, &out); err != nil {
		return nil, err
	}
	created := &VoltasisCreatedKey{VoltasisAPIKey: out.Data.VoltasisAPIKey}
	key, err := out.Data.secret()
	if err != nil {
		return created, err
	}
	created.Key = key
	return created, nil
}

// secret validates the new key's secret. The error names the key by its ID
// (quoted: it comes from the server), never by its secret.
func (w *voltasisCreatedWire) secret() (StaticToken, error) {
	return newStaticToken(w.Key, "secret of created API key "+strconv.QuoteToASCII(w.ID))
}

// ListAPIKeys lists the organization's active API keys, without secrets:
// GET /api/v1/api-keys.
func (v Voltasis) ListAPIKeys(ctx context.Context) ([]VoltasisAPIKey, error) {
	var out familyData[[]VoltasisAPIKey]
	if err := familyGet(ctx, v.Client, "Voltasis", "api/v1/api-keys", &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RevokeAPIKey revokes the key with the given ID: DELETE
// /api/v1/api-keys/{id}, the ID escaped as one path segment. A key that is
// unknown or already revoked is an error matching [ErrNotFound].
func (v Voltasis) RevokeAPIKey(ctx context.Context, id string) error {
	seg, err := familySegment("Voltasis", "API key ID", id)
	if err != nil {
		return err
	}
	c, err := familyClient(v.Client, "Voltasis")
	if err != nil {
		return err
	}
	_, err = c.Delete(ctx, "api/v1/api-keys/"+seg, nil)
	return err
}
