package apiauth

import (
	"context"
	"errors"
	"net/url"
)

// Presets for the four API families: the production base URL each
// provider documents, to pass to [NewClient] (the typed wrappers [Artos],
// [Artanis], [Voltasis] and [AudiModal] join the documented paths to it, so
// a base URL with a path prefix, such as the fake's
// apiauthtest.Server.URL(family), works too).
const (
	// ArtosBaseURL is the Artos API.
	ArtosBaseURL = "https://api.artosai.com"
	// ArtanisBaseURL is the Artanis REST API.
	ArtanisBaseURL = "https://app.artanis.ai"
	// VoltasisBaseURL is the Voltasis API. Its paths start with /v1 or
	// /api/v1, so the base URL has no version.
	VoltasisBaseURL = "https://api.voltasis.com"
	// AudiModalBaseURL is the AudiModal API, without the /v1 the paths
	// start with.
	AudiModalBaseURL = "https://api.audimodal.ai"
)

// Presets for [ClientOptions.TenantHeader]: the header each family reads a
// per-request tenant or organization from. Set it on the client, then pick
// the tenant per request with [WithTenant] or for every request with
// [ClientOptions.Tenant]. Artos takes no override (the organization is
// inside the token), so its TenantHeader stays empty.
const (
	// ArtanisTenantHeader is x-org-slug: the override replaces the slug the
	// [HeaderPair] carries, so one key reads each of its organizations.
	ArtanisTenantHeader = "X-Org-Slug"
	// VoltasisTenantHeader is X-Organization-ID; the API refuses it (403
	// FORBIDDEN) for another organization unless the key has the permission.
	VoltasisTenantHeader = "X-Organization-ID"
	// AudiModalTenantHeader is X-Tenant-ID; only admin keys and users may
	// name another tenant (else 403 INSUFFICIENT_PERMISSIONS, required role
	// "admin").
	AudiModalTenantHeader = "X-Tenant-ID"
)

// familyData is the {"data": …} envelope of Voltasis' answers.
type familyData[T any] struct {
	Data T `json:"data"`
}

// familyClient returns c, or an error naming the wrapper when it holds no
// client: the zero value of a family wrapper fails instead of panicking.
func familyClient(c *Client, family string) (*Client, error) {
	if c == nil {
		return nil, errors.New("apiauth: " + family + " has no Client")
	}
	return c, nil
}

// familyGet sends GET path through the wrapper's client into out.
func familyGet(ctx context.Context, c *Client, family, path string, out any) error {
	c, err := familyClient(c, family)
	if err != nil {
		return err
	}
	_, err = c.Get(ctx, path, out)
	return err
}

// familyPost sends POST path with in as JSON through the wrapper's client
// into out.
func familyPost(ctx context.Context, c *Client, family, path string, in, out any) error {
	c, err := familyClient(c, family)
	if err != nil {
		return err
	}
	_, err = c.Post(ctx, path, in, out)
	return err
}

// familySegment escapes one path segment, refusing the empty segment and
// the dot segments, which would name another resource once the path is
// cleaned.
func familySegment(family, what, s string) (string, error) {
	switch s {
	case "":
		return "", errors.New("apiauth: " + family + ": empty " + what)
	case ".", "..":
		return "", errors.New("apiauth: " + family + ": invalid " + what)
	}
	return url.PathEscape(s), nil
}
