// Package audimodal is the AudiModal API over apiauth: its base URL,
// environment variable and tenant header, its login source (email +
// password + tenant, then single-use refresh tokens), and typed calls for
// login, refresh, health, the IP allowlist and files.
//
// Authenticate with an API key ([apiauth.APIKeyFromEnv] with [EnvAPIKey];
// AudiModal documents the sk_live_, sk_test_ and tk_ prefixes, which
// [apiauth.APIKey.Mode] reports), or with an [apiauth.TokenCache] in front of
// [NewLoginSource] for user sessions. Admin keys and users may name another
// tenant per request with [apiauth.WithTenant] (header [TenantHeader]).
//
// Errors are apiauth's: an [*apiauth.Error] with AudiModal's code, matching
// [apiauth.ErrInvalidAPIKey] and [apiauth.ErrUnauthorized] for
// INVALID_API_KEY, [apiauth.ErrTokenExpired] for TOKEN_EXPIRED (with
// ExpiresAt), [apiauth.ErrInsufficientPermissions] and [apiauth.ErrForbidden]
// for INSUFFICIENT_PERMISSIONS (with RequiredRole); a 429
// RATE_LIMIT_EXCEEDED is waited out by the client's retry layer when its
// retry_after is short enough, else returned as an [*apiauth.RateLimitError].
package audimodal

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/family"
	"github.com/apiauth/apiauth/internal/jwtclaims"
	"github.com/apiauth/apiauth/internal/sentsecret"
	"github.com/apiauth/apiauth/transport"
)

const (
	// BaseURL is the AudiModal API, without the /v1 its paths start with.
	BaseURL = "https://api.audimodal.ai"
	// EnvAPIKey is the environment variable AudiModal documents for the API
	// key.
	EnvAPIKey = "AUDIMODAL_API_KEY"
	// TenantHeader is X-Tenant-ID; only admin keys and users may name
	// another tenant (else 403 INSUFFICIENT_PERMISSIONS, required role
	// "admin").
	TenantHeader = "X-Tenant-ID"
)

// Client is the typed AudiModal API over an [apiauth.Client]. The zero value
// holds no client: its methods return an error. It is safe for concurrent
// use, as its apiauth.Client is.
type Client struct {
	*apiauth.Client
}

// NewClient returns a client for the AudiModal API at baseURL ([BaseURL]
// when empty), with TenantHeader preset to [TenantHeader]. opts may be nil;
// it is copied.
func NewClient(baseURL string, cred transport.Credential, opts *apiauth.ClientOptions) (Client, error) {
	c, err := family.NewClient(baseURL, BaseURL, TenantHeader, cred, opts)
	return Client{c}, err
}

// NewLoginSource returns the source of session tokens for login from the
// AudiModal API at baseURL ([BaseURL] when empty): POST /v1/auth/login, then
// /v1/auth/refresh with the single-use refresh token. Put an
// [apiauth.TokenCache] in front of it. opts may be nil.
func NewLoginSource(baseURL string, login apiauth.Login, opts *apiauth.SourceOptions) (*apiauth.LoginSource, error) {
	if baseURL == "" {
		baseURL = BaseURL
	}
	return apiauth.NewLoginSource(baseURL, login, opts)
}

// User is the user a login or refresh answer describes.
type User struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	TenantID string `json:"tenant_id"`
}

// Session is the answer to a login or a refresh: the access token with its
// refresh token and expiry, and the user. Token prints redacted under fmt,
// encoding/json and log/slog, and so does the session.
type Session struct {
	// Token holds the access token, its single-use refresh token, its type
	// and its expiry (from expires_in, else the JWT exp claim).
	Token *apiauth.Token `json:"token"`
	// User is the logged-in user.
	User User `json:"user"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version"`
	// TenantID is the tenant the request acted on: the credential's, or
	// the X-Tenant-ID override.
	TenantID  string    `json:"tenant_id"`
	Timestamp time.Time `json:"timestamp"`
}

// IPAllowlist is the allowlist in force after [Client.SetIPAllowlist].
type IPAllowlist struct {
	TenantID   string   `json:"tenant_id"`
	AllowedIPs []string `json:"allowed_ips"`
}

// File is one file of GET /v1/files.
type File struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TenantID string `json:"tenant_id"`
}

// FileList is the answer of GET /v1/files.
type FileList struct {
	Files []File `json:"data"`
	// TenantID is the tenant whose files these are.
	TenantID string `json:"tenant_id"`
}

// Login logs in: POST /v1/auth/login with email, password and tenant_id,
// through the client's stack. To keep a session alive without calling Login
// and Refresh yourself, use an [apiauth.TokenCache] in front of
// [NewLoginSource].
func (a Client) Login(ctx context.Context, login apiauth.Login) (*Session, error) {
	c, err := family.Check(a.Client, "audimodal")
	if err != nil {
		return nil, err
	}
	src, err := apiauth.NewLoginSource(c.BaseURL().String(), login, family.SourceOptions(c))
	if err != nil {
		return nil, err
	}
	tok, err := src.Token(ctx)
	if err != nil {
		return nil, err
	}
	s := &Session{Token: tok}
	if u, ok := tok.Extra["user"]; ok {
		if err := remarshal(u, &s.User); err != nil {
			return nil, fmt.Errorf("audimodal: decoding the user in the login answer: %w", err)
		}
	}
	return s, nil
}

// Refresh renews a session with its refresh token: POST /v1/auth/refresh.
// Refresh tokens are single use: keep the one in the answer and drop
// refreshToken (an answer without one keeps refreshToken in the returned
// Token). A spent, revoked or expired refresh token is an error matching
// [apiauth.ErrUnauthorized].
func (a Client) Refresh(ctx context.Context, refreshToken string) (*Session, error) {
	if refreshToken == "" {
		return nil, &apiauth.CredentialError{Source: "refresh token", Reason: "is empty"}
	}
	var out refreshWire
	received := time.Now()
	// The refresh token is a secret this call sends: scrubbed from any
	// error built from the answer, as the credential is.
	ctx, sent := sentsecret.With(ctx)
	sent.Add(refreshToken)
	if err := family.Post(ctx, a.Client, "audimodal", "v1/auth/refresh", map[string]string{"refresh_token": refreshToken}, &out); err != nil {
		return nil, err
	}
	return out.session(refreshToken, received)
}

// refreshWire is the answer to POST /v1/auth/refresh.
type refreshWire struct {
	AccessToken  string      `json:"access_token"`
	RefreshToken string      `json:"refresh_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    json.Number `json:"expires_in"`
	User         User        `json:"user"`
}

// session builds the typed answer, received at received; prevRefresh
// stands in for a missing refresh token. The error never quotes a token.
func (w *refreshWire) session(prevRefresh string, received time.Time) (*Session, error) {
	if _, err := apiauth.NewStaticToken(w.AccessToken); err != nil {
		return nil, fmt.Errorf("audimodal: the refresh answer's access_token: %w", err)
	}
	tok := &apiauth.Token{AccessToken: w.AccessToken, RefreshToken: w.RefreshToken, TokenType: w.TokenType}
	if tok.RefreshToken == "" {
		tok.RefreshToken = prevRefresh
	}
	// Past ten years the figure is nonsense: treat it as unknown.
	if secs, err := w.ExpiresIn.Int64(); err == nil && secs > 0 && secs < 10*365*24*3600 {
		tok.Expiry = received.Add(time.Duration(secs) * time.Second)
	} else if exp, _ := jwtclaims.Times(tok.AccessToken, 0); !exp.IsZero() {
		tok.Expiry = exp
	}
	return &Session{Token: tok, User: w.User}, nil
}

// remarshal converts v, decoded from JSON as a map (or kept raw), into out.
func remarshal(v any, out any) error {
	if raw, ok := v.(json.RawMessage); ok {
		return json.Unmarshal(raw, out)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// Health tests the credential: GET /v1/health, which echoes the tenant the
// request acted on.
func (a Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if err := family.Get(ctx, a.Client, "audimodal", "v1/health", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetIPAllowlist sets the IP addresses and CIDR prefixes allowed to use the
// tenant's production keys: POST /v1/auth/ip-allowlist with allowed_ips
// (nil is sent as an empty list). It needs an admin credential; the tenant
// is the credential's, or the one ctx names with [apiauth.WithTenant].
func (a Client) SetIPAllowlist(ctx context.Context, allowedIPs []string) (*IPAllowlist, error) {
	if allowedIPs == nil {
		allowedIPs = []string{}
	}
	body := struct {
		AllowedIPs []string `json:"allowed_ips"`
	}{allowedIPs}
	var out IPAllowlist
	if err := family.Post(ctx, a.Client, "audimodal", "v1/auth/ip-allowlist", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListFiles lists the tenant's files: GET /v1/files. The tenant is the
// credential's, or the one ctx names with [apiauth.WithTenant].
func (a Client) ListFiles(ctx context.Context) (*FileList, error) {
	var out FileList
	if err := family.Get(ctx, a.Client, "audimodal", "v1/files", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
