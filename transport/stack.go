package transport

import "net/http"

// Layers are the layers [New] stacks. Nil layers get their zero value, which
// is ready to use.
type Layers struct {
	// Retry is the outermost layer: it retries what is safe to retry.
	Retry *Retry
	// Pace keeps requests inside the server's advertised rate limit.
	Pace *Pace
	// Auth attaches the credential to requests for the right origins.
	Auth *Auth
	// Base sends the requests. Nil means [NewBase]: a clone of
	// http.DefaultTransport that keeps more idle connections per host.
	Base http.RoundTripper
}

// New stacks the layers in the one order that works, and returns the
// outermost:
//
//	Retry → Pace → Auth → Base
//
// Retry is outermost so that each attempt is paced and carries a freshly
// applied credential; Pace sits above Auth so that a request it refuses or
// holds never costs a token fetch; Auth is innermost so that every hop of a
// redirect, and every retry, is checked against its origin. New takes
// ownership of the layers: it sets their Base fields, and they must not be
// used in another stack.
func New(l Layers) http.RoundTripper {
	if l.Retry == nil {
		l.Retry = &Retry{}
	}
	if l.Pace == nil {
		l.Pace = &Pace{}
	}
	if l.Auth == nil {
		l.Auth = &Auth{}
	}
	if l.Base == nil {
		l.Base = NewBase()
	}
	l.Auth.Base = l.Base
	l.Pace.Base = l.Auth
	l.Retry.Base = l.Pace
	return l.Retry
}
