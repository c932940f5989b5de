// Package artos is the Artos API over apiauth: its base URL and
// environment variable, its token source (POST /get-access-token, a JWT per
// user id), and typed calls for the search status, documents and templates.
//
// Artos takes no tenant header: the organization is inside the token.
// Errors are apiauth's: an [*apiauth.Error] whose Detail is Artos' detail
// string, matching [apiauth.ErrUnauthorized] for 401 ("Not authenticated",
// "Invalid authentication credentials") and [apiauth.ErrForbidden] for 403
// ("User has no organization or not authorized").
package artos

import (
	"context"
	"strings"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/family"
	"github.com/apiauth/apiauth/transport"
)

const (
	// BaseURL is the Artos API.
	BaseURL = "https://api.artosai.com"
	// EnvToken is the environment variable Artos documents for a bearer
	// token (see [apiauth.StaticTokenFromEnv]).
	EnvToken = "ARTOS_TOKEN"
)

// Client is the typed Artos API over an [apiauth.Client]. The zero value
// holds no client: its methods return an error. It is safe for concurrent
// use, as its apiauth.Client is.
type Client struct {
	*apiauth.Client
}

// NewClient returns a client for the Artos API at baseURL ([BaseURL] when
// empty; a fake's URL in tests). cred is a bearer credential: a
// [apiauth.StaticToken], or an [apiauth.TokenCache] in front of
// [NewTokenSource]. opts may be nil; it is copied.
func NewClient(baseURL string, cred transport.Credential, opts *apiauth.ClientOptions) (Client, error) {
	c, err := family.NewClient(baseURL, BaseURL, "", cred, opts)
	return Client{c}, err
}

// NewTokenSource returns the source of access tokens for userID from the
// Artos API at baseURL ([BaseURL] when empty): POST /get-access-token. The
// expiry is read from the JWT's exp claim. Put an [apiauth.TokenCache] in
// front of it. opts may be nil.
func NewTokenSource(baseURL, userID string, opts *apiauth.SourceOptions) (*apiauth.TokenEndpoint, error) {
	if baseURL == "" {
		baseURL = BaseURL
	}
	return apiauth.NewTokenEndpoint(strings.TrimSuffix(baseURL, "/")+"/get-access-token", userID, opts)
}

// SearchStatus is the answer of GET /api/v1/search/status.
type SearchStatus struct {
	// Status is the search service's status, "ok" when it is up.
	Status string `json:"status"`
}

// Document is one document of GET /api/v1/documents/.
type Document struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	OrganizationID string `json:"organization_id"`
}

// Template is one template of GET /api/v1/templates/.
type Template struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	OrganizationID string `json:"organization_id"`
}

// GetAccessToken exchanges userID for an access token: POST
// /get-access-token, through the client's stack. The token's Expiry is read
// from its JWT exp claim, zero when unknown; it prints redacted. To keep a
// token fresh without calling this yourself, use an [apiauth.TokenCache] in
// front of [NewTokenSource].
func (a Client) GetAccessToken(ctx context.Context, userID string) (*apiauth.Token, error) {
	c, err := family.Check(a.Client, "artos")
	if err != nil {
		return nil, err
	}
	src, err := apiauth.NewTokenEndpoint(c.BaseURL().JoinPath("get-access-token").String(), userID, family.SourceOptions(c))
	if err != nil {
		return nil, err
	}
	return src.Token(ctx)
}

// SearchStatus reports the search service's status: GET
// /api/v1/search/status, the one public endpoint.
func (a Client) SearchStatus(ctx context.Context) (*SearchStatus, error) {
	var out SearchStatus
	if err := family.Get(ctx, a.Client, "artos", "api/v1/search/status", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDocuments lists the documents of the token's organization: GET
// /api/v1/documents/.
func (a Client) ListDocuments(ctx context.Context) ([]Document, error) {
	var out []Document
	if err := family.Get(ctx, a.Client, "artos", "api/v1/documents/", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListTemplates lists the templates of the token's organization: GET
// /api/v1/templates/.
func (a Client) ListTemplates(ctx context.Context) ([]Template, error) {
	var out []Template
	if err := family.Get(ctx, a.Client, "artos", "api/v1/templates/", &out); err != nil {
		return nil, err
	}
	return out, nil
}
