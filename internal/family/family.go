// Package family holds what the provider packages (artos, artanis,
// voltasis, audimodal) share: building a client with a family's presets,
// and sending typed calls through it.
package family

import (
	"context"
	"errors"
	"net/url"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/transport"
)

// NewClient builds a client for a family: baseURL, or defaultBase when it is
// empty, and opts with TenantHeader preset to tenantHeader unless the
// caller set one. opts is copied, never written.
func NewClient(baseURL, defaultBase, tenantHeader string, cred transport.Credential, opts *apiauth.ClientOptions) (*apiauth.Client, error) {
	if baseURL == "" {
		baseURL = defaultBase
	}
	var o apiauth.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TenantHeader == "" {
		o.TenantHeader = tenantHeader
	}
	return apiauth.NewClient(baseURL, cred, &o)
}

// Data is the {"data": …} envelope of Voltasis' answers.
type Data[T any] struct {
	Data T `json:"data"`
}

// Check returns c, or an error naming the family when it is nil: the zero
// value of a family client fails instead of panicking.
func Check(c *apiauth.Client, family string) (*apiauth.Client, error) {
	if c == nil {
		return nil, errors.New(family + ": no apiauth.Client (build one with " + family + ".NewClient)")
	}
	return c, nil
}

// Get sends GET path through c into out.
func Get(ctx context.Context, c *apiauth.Client, family, path string, out any) error {
	c, err := Check(c, family)
	if err != nil {
		return err
	}
	_, err = c.Get(ctx, path, out)
	return err
}

// Post sends POST path with in as JSON through c into out.
func Post(ctx context.Context, c *apiauth.Client, family, path string, in, out any) error {
	c, err := Check(c, family)
	if err != nil {
		return err
	}
	_, err = c.Post(ctx, path, in, out)
	return err
}

// Segment escapes one path segment, refusing the empty segment and the dot
// segments, which would name another resource once the path is cleaned.
func Segment(family, what, s string) (string, error) {
	switch s {
	case "":
		return "", errors.New(family + ": empty " + what)
	case ".", "..":
		return "", errors.New(family + ": invalid " + what)
	}
	return url.PathEscape(s), nil
}

// SourceOptions returns the options for a token source that sends its
// requests through c's whole stack, as every call of c does.
func SourceOptions(c *apiauth.Client) *apiauth.SourceOptions {
	return &apiauth.SourceOptions{HTTPClient: c.HTTPClient(), AllowInsecure: true}
}
