// Package artanis is the Artanis REST API over apiauth: its base URL,
// environment variable and organization header, and typed calls.
//
// Artanis authenticates with a header pair, x-api-key and x-org-slug
// ([apiauth.NewHeaderPair]); [TenantHeader] overrides the slug per request
// with [apiauth.WithTenant], so one key reads each of its organizations.
package artanis

import (
	"context"
	"errors"
	"net/url"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/family"
	"github.com/apiauth/apiauth/transport"
)

const (
	// BaseURL is the Artanis REST API.
	BaseURL = "https://app.artanis.ai"
	// EnvAPIKey is the environment variable Artanis documents for the API
	// key (see [apiauth.HeaderPairFromEnv]).
	EnvAPIKey = "ARTANIS_API_KEY"
	// TenantHeader is x-org-slug: the override replaces the slug the
	// header pair carries.
	TenantHeader = "X-Org-Slug"
)

// Client is the typed Artanis API over an [apiauth.Client]. The zero value
// holds no client: its methods return an error. It is safe for concurrent
// use, as its apiauth.Client is.
type Client struct {
	*apiauth.Client
}

// NewClient returns a client for the Artanis API at baseURL ([BaseURL] when
// empty), with TenantHeader preset to [TenantHeader]. cred is usually an
// [apiauth.HeaderPair]. opts may be nil; it is copied.
func NewClient(baseURL string, cred transport.Credential, opts *apiauth.ClientOptions) (Client, error) {
	c, err := family.NewClient(baseURL, BaseURL, TenantHeader, cred, opts)
	return Client{c}, err
}

// Prompt is one prompt of GET /api/prompts.
type Prompt struct {
	Slug    string `json:"slug"`
	Project string `json:"project"`
	Content string `json:"content"`
}

// ListPrompts lists the prompts of a project: GET
// /api/prompts?projectSlug=…, in the organization of the header pair (or
// the one ctx names with [apiauth.WithTenant]).
func (a Client) ListPrompts(ctx context.Context, projectSlug string) ([]Prompt, error) {
	if projectSlug == "" {
		return nil, errors.New("artanis: empty project slug")
	}
	var out []Prompt
	q := url.Values{"projectSlug": {projectSlug}}
	if err := family.Get(ctx, a.Client, "artanis", "api/prompts?"+q.Encode(), &out); err != nil {
		return nil, err
	}
	return out, nil
}
