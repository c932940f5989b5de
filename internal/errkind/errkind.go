// Package errkind holds the sentinel error values behind apiauth's exported
// Err* variables, so that both the root package and the transport layers can
// return errors that match them with errors.Is without an import cycle.
package errkind

// Kind is a sentinel error: a category of failure, compared by identity.
type Kind struct{ msg string }

// Error returns the kind's message.
func (k *Kind) Error() string { return k.msg }

// The kinds. Their messages start with "apiauth: ".
var (
	Unauthorized            = &Kind{"apiauth: unauthorized"}
	Forbidden               = &Kind{"apiauth: forbidden"}
	NotFound                = &Kind{"apiauth: not found"}
	RateLimited             = &Kind{"apiauth: rate limited"}
	TokenExpired            = &Kind{"apiauth: token expired"}
	InvalidAPIKey           = &Kind{"apiauth: invalid API key"}
	InsufficientPermissions = &Kind{"apiauth: insufficient permissions"}
	Server                  = &Kind{"apiauth: server error"}
	InvalidCredential       = &Kind{"apiauth: invalid credential"}
	InvalidConfig           = &Kind{"apiauth: invalid configuration"}
	InsecureTransport       = &Kind{"apiauth: credential refused over plain HTTP"}
	TokenRefresh            = &Kind{"apiauth: token refresh failed"}
	Closed                  = &Kind{"apiauth: closed"}
)
