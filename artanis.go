package apiauth

import (
	"context"
	"errors"
	"net/url"
)

// Artanis is the typed Artanis REST API over a [Client].
//
// Build the client with [ArtanisBaseURL] (or the fake's URL), a
// [HeaderPair] (x-api-key from [EnvArtanisAPIKey] and the default
// organization's x-org-slug) and TenantHeader [ArtanisTenantHeader]; then
// [WithTenant] switches the organization for one request.
//
// Artanis answers errors with a bare status, which [Client.Do] turns into
// an [*Error] matching [ErrUnauthorized] (401: missing or invalid key),
// [ErrForbidden] (403: the project or resource is not in that
// organization) or [ErrNotFound] (404).
//
// The zero value holds no client: its methods return an error. Artanis is
// safe for concurrent use, as its Client is.
type Artanis struct {
	*Client
}

// ArtanisPrompt is one prompt of GET /api/prompts.
type ArtanisPrompt struct {
	Slug    string `json:"slug"`
	Project string `json:"project"`
	Content string `json:"content"`
}

// ListPrompts lists the prompts of project projectSlug in the request's
// organization: GET /api/prompts?projectSlug=… (the slug is query-escaped).
// The organization is the credential's slug, or the one ctx names with
// [WithTenant] when the client's TenantHeader is [ArtanisTenantHeader].
func (a Artanis) ListPrompts(ctx context.Context, projectSlug string) ([]ArtanisPrompt, error) {
	if projectSlug == "" {
		return nil, errors.New("apiauth: Artanis: empty project slug")
	}
	var out []ArtanisPrompt
	q := url.Values{"projectSlug": {projectSlug}}
	if err := familyGet(ctx, a.Client, "Artanis", "api/prompts?"+q.Encode(), &out); err != nil {
		return nil, err
	}
	return out, nil
}
