// Package transport holds the http.RoundTripper layers of apiauth, each usable
// on its own: [Auth] attaches credentials, the rate-limit layer paces requests
// from the server's limit headers, and the retry layer retries what is safe to
// retry. It imports nothing from the root apiauth package, so the root package
// can build on it.
//
// Every layer keeps the [net/http.RoundTripper] contract: it never mutates the
// caller's request (it clones it first), it closes the request body on every
// early return, and it returns a nil error whenever it got a response. Mapping
// a status code to a typed error is the job of apiauth.CheckResponse.
package transport

import (
	"context"
	"net/http"
)

// Credential attaches an authentication credential to outgoing requests.
//
// Implementations must be safe for concurrent use. The root apiauth package
// provides implementations for API keys, header pairs, static tokens and the
// refreshing token cache.
type Credential interface {
	// Apply sets the credential's headers on h, the header map of a clone of
	// the outgoing request that the caller owns. It returns a handle that
	// identifies exactly which credential was applied (for a token cache, the
	// token itself); [Auth] hands it back to [Invalidator.InvalidateCredential]
	// when the server answers 401. Apply must return promptly with an error
	// wrapping ctx.Err() when ctx is cancelled while it waits.
	Apply(ctx context.Context, h http.Header) (used any, err error)
}

// Invalidator is implemented by credentials that can be renewed, such as a
// token cache. After a 401 answer, [Auth] calls InvalidateCredential with the
// handle that Apply returned for the failed request, then applies the
// credential again and retries the request once.
//
// InvalidateCredential must drop the credential only if it is still the
// current one, so that many concurrent 401s for the same token cause one
// renewal. It reports whether it dropped anything.
type Invalidator interface {
	InvalidateCredential(used any) bool
}

// HeaderNamer is implemented by credentials that set headers other than
// Authorization and X-Api-Key. [Auth] strips every header a
// credential may set from requests to origins the credential does not belong
// to.
type HeaderNamer interface {
	// HeaderNames returns the canonical names of the headers Apply may set.
	HeaderNames() []string
}

// CredentialFunc adapts a function to the [Credential] interface. The handle
// it returns is nil.
type CredentialFunc func(ctx context.Context, h http.Header) error

// Apply calls f(ctx, h).
func (f CredentialFunc) Apply(ctx context.Context, h http.Header) (any, error) {
	return nil, f(ctx, h)
}
