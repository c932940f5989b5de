package apiauth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiauth/apiauth/internal/sentsecret"
)

// AudiModal is the typed AudiModal API over a [Client]: log in, refresh,
// health, IP allowlist and files.
//
// Build the client with [AudiModalBaseURL] (or the fake's URL), a
// credential (an [APIKey] from [APIKeyFromEnv] and [EnvAudiModalKey], or a
// [TokenCache] in front of a [LoginSource] for user sessions) and
// TenantHeader [AudiModalTenantHeader], so that [WithTenant] can name
// another tenant (admins only).
//
// Errors come from [Client.Do]: an [*Error] with AudiModal's code,
// matching [ErrInvalidAPIKey] and [ErrUnauthorized] for INVALID_API_KEY,
// [ErrTokenExpired] and [ErrUnauthorized] for TOKEN_EXPIRED (with
// [Error.ExpiresAt]), [ErrInsufficientPermissions] and [ErrForbidden] for
// INSUFFICIENT_PERMISSIONS (with [Error.RequiredRole]); a 429
// RATE_LIMIT_EXCEEDED is waited out by the client's retry layer when its
// retry_after is short enough, else returned as a [*RateLimitError].
//
// The zero value holds no client: its methods return an error. AudiModal is
// safe for concurrent use, as its Client is.
type AudiModal struct {
	*Client
}

// AudiModalUser is the user a login or refresh answer describes.
type AudiModalUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	TenantID string `json:"tenant_id"`
}

// AudiModalSession is the answer to a login or a refresh: the access token
// with its refresh token and expiry, and the user. Token prints redacted
// under fmt, encoding/json and log/slog, and so does the session.
type AudiModalSession struct {
	// Token holds the access token, its single-use refresh token, its type
	// and its expiry (from expires_in, else the JWT exp claim).
	Token *Token `json:"token"`
	// User is the logged-in user.
	User AudiModalUser `json:"user"`
}

// AudiModalHealth is the answer of GET /v1/health.
type AudiModalHealth struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version"`
	// TenantID is the tenant the request acted on: the credential's, or
	// the X-Tenant-ID override.
	TenantID  string    `json:"tenant_id"`
	Timestamp time.Time `json:"timestamp"`
}

// AudiModalIPAllowlist is the allowlist in force after
// [AudiModal.SetIPAllowlist].
type AudiModalIPAllowlist struct {
	TenantID   string   `json:"tenant_id"`
	AllowedIPs []string `json:"allowed_ips"`
}

// AudiModalFile is one file of GET /v1/files.
type AudiModalFile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TenantID string `json:"tenant_id"`
}

// AudiModalFileList is the answer of GET /v1/files.
type AudiModalFileList struct {
	Files []AudiModalFile `json:"data"`
	// TenantID is the tenant whose files these are.
	TenantID string `json:"tenant_id"`
}

// Login logs in: POST /v1/auth/login with email, password and tenant_id.
// The endpoint needs no credential; the client's, if any, is sent as on
// every request. To keep a session alive without calling Login and Refresh
// yourself, use a [TokenCache] in front of a [LoginSource].
func (a AudiModal) Login(ctx context.Context, login Login) (*AudiModalSession, error) {
	if err := login.check(); err != nil {
		return nil, err
	}
	var out loginResponse
	ctx, sent := sentsecret.With(ctx)
	sent.Add(login.Password)
	if err := familyPost(ctx, a.Client, "AudiModal", "v1/auth/login", login.body(), &out); err != nil {
		return nil, err
	}
	return out.session("/v1/auth/login", "")
}

// Refresh renews a session with its refresh token: POST /v1/auth/refresh.
// Refresh tokens are single use: keep the one in the answer and drop
// refreshToken (an answer without one keeps refreshToken in the returned
// Token). A spent, revoked or expired refresh token is an error matching
// [ErrUnauthorized].
func (a AudiModal) Refresh(ctx context.Context, refreshToken string) (*AudiModalSession, error) {
	if refreshToken == "" {
		return nil, &CredentialError{Source: "refresh token", Reason: "is empty"}
	}
	var out loginResponse
	ctx, sent := sentsecret.With(ctx)
	sent.Add(refreshToken)
	if err := familyPost(ctx, a.Client, "AudiModal", "v1/auth/refresh", refreshBody(refreshToken), &out); err != nil {
		return nil, err
	}
	return out.session("/v1/auth/refresh", refreshToken)
}

// session builds the typed answer of a login or refresh from path, the
// token decoded as [LoginSource] decodes it. prevRefresh stands in for a
// missing refresh token.
func (r *loginResponse) session(path, prevRefresh string) (*AudiModalSession, error) {
	tok, err := r.token(path, time.Now())
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = prevRefresh
	}
	s := &AudiModalSession{Token: tok}
	if len(r.User) > 0 && string(r.User) != "null" {
		if err := json.Unmarshal(r.User, &s.User); err != nil {
			return nil, fmt.Errorf("apiauth: decoding the user in the answer from %s: %w", path, describeJSONError(err))
		}
	}
	return s, nil
}

// Health tests the credential: GET /v1/health, which echoes the tenant the
// request acted on.
func (a AudiModal) Health(ctx context.Context) (*AudiModalHealth, error) {
	var out AudiModalHealth
	if err := familyGet(ctx, a.Client, "AudiModal", "v1/health", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetIPAllowlist sets the IP addresses and CIDR prefixes allowed to use the
// tenant's production keys: POST /v1/auth/ip-allowlist with allowed_ips
// (nil is sent as an empty list). It needs an admin credential; the tenant
// is the credential's, or the one ctx names with [WithTenant].
func (a AudiModal) SetIPAllowlist(ctx context.Context, allowedIPs []string) (*AudiModalIPAllowlist, error) {
	if allowedIPs == nil {
		allowedIPs = []string{}
	}
	body := struct {
		AllowedIPs []string `json:"allowed_ips"`
	}{allowedIPs}
	var out AudiModalIPAllowlist
	if err := familyPost(ctx, a.Client, "AudiModal", "v1/auth/ip-allowlist", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListFiles lists the tenant's files: GET /v1/files. The tenant is the
// credential's, or the one ctx names with [WithTenant].
func (a AudiModal) ListFiles(ctx context.Context) (*AudiModalFileList, error) {
	var out AudiModalFileList
	if err := familyGet(ctx, a.Client, "AudiModal", "v1/files", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
