package apiauth

import (
	"context"
	"time"
)

// Artos is the typed Artos API over a [Client]: the token endpoint, the
// public search status, and the organization's documents and templates.
//
// Build the client with [ArtosBaseURL] (or the fake's URL) and a bearer
// credential: a [StaticToken] from [EnvArtosToken], or a [TokenCache] in
// front of a [TokenEndpoint], which fetches a new JWT when the old one
// nears its exp claim. Artos takes no tenant header: the organization is in
// the token.
//
// Errors come from [Client.Do]: an [*Error] whose Detail is Artos' detail
// string, matching [ErrUnauthorized] for 401 ("Not authenticated",
// "Invalid authentication credentials") and [ErrForbidden] for 403 ("User
// has no organization or not authorized").
//
// The zero value holds no client: its methods return an error. Artos is
// safe for concurrent use, as its Client is.
type Artos struct {
	*Client
}

// ArtosSearchStatus is the answer of GET /api/v1/search/status.
type ArtosSearchStatus struct {
	// Status is the search service's status, "ok" when it is up.
	Status string `json:"status"`
}

// ArtosDocument is one document of GET /api/v1/documents/.
type ArtosDocument struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	OrganizationID string `json:"organization_id"`
}

// ArtosTemplate is one template of GET /api/v1/templates/.
type ArtosTemplate struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	OrganizationID string `json:"organization_id"`
}

// GetAccessToken exchanges userID for an access token: POST
// /get-access-token. The token's Expiry is read from its JWT exp claim
// (skew-corrected with iat), zero when unknown; it prints redacted. The
// endpoint needs no credential; the client's, if any, is sent as on every
// request. To keep a token fresh without calling this yourself, use a
// [TokenCache] in front of a [TokenEndpoint].
func (a Artos) GetAccessToken(ctx context.Context, userID string) (*Token, error) {
	if userID == "" {
		return nil, &CredentialError{Source: "user_id", Reason: "is empty"}
	}
	var out accessTokenResponse
	if err := familyPost(ctx, a.Client, "Artos", "get-access-token", artosTokenRequest(userID), &out); err != nil {
		return nil, err
	}
	return out.token("/get-access-token", time.Now())
}

// SearchStatus reports the search service's status: GET
// /api/v1/search/status, the one public endpoint.
func (a Artos) SearchStatus(ctx context.Context) (*ArtosSearchStatus, error) {
	var out ArtosSearchStatus
	if err := familyGet(ctx, a.Client, "Artos", "api/v1/search/status", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDocuments lists the documents of the token's organization: GET
// /api/v1/documents/.
func (a Artos) ListDocuments(ctx context.Context) ([]ArtosDocument, error) {
	var out []ArtosDocument
	if err := familyGet(ctx, a.Client, "Artos", "api/v1/documents/", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListTemplates lists the templates of the token's organization: GET
// /api/v1/templates/.
func (a Artos) ListTemplates(ctx context.Context) ([]ArtosTemplate, error) {
	var out []ArtosTemplate
	if err := familyGet(ctx, a.Client, "Artos", "api/v1/templates/", &out); err != nil {
		return nil, err
	}
	return out, nil
}
