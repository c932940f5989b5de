package transport

import "net/http"

// Options configures the whole stack [New] builds: one plain value per
// layer. The zero value is ready to use (no credential, every default), and
// one Options value may configure any number of stacks at once: New never
// writes into it and shares no state between the stacks it builds.
type Options struct {
	// Retry configures the outermost layer, which retries what is safe to
	// retry.
	Retry RetryOptions
	// Pace configures the rate-limit layer, which keeps requests inside the
	// server's advertised limit.
	Pace PaceOptions
	// Auth configures the innermost layer, which attaches the credential to
	// requests for the right origins.
	Auth AuthOptions
	// Observer receives the stack's events, for tracing and metrics (see
	// [Observer]). The zero value observes nothing.
	Observer Observer
}

// Stack is the apiauth layer stack, an [http.RoundTripper] built by [New].
// It is safe for concurrent use.
type Stack struct {
	retry *Retry
	pace  *Pace
	auth  *Auth
	obs   *Observer // nil when no event is observed
}

// New builds a fresh stack over base in the one order that works:
//
//	Retry → Pace → Auth → base
//
// Retry is outermost so that each attempt is paced and carries a freshly
// applied credential; Pace sits above Auth so that a request it refuses or
// holds never costs a token fetch; Auth is innermost so that every hop of a
// redirect, and every retry, is checked against its origin. A nil base means
// [NewBase]. Every call builds new layers, so no layer ever serves two
// stacks. New returns the Auth configuration's error, if any (see
// [Auth.Validate]).
func New(base http.RoundTripper, o Options) (*Stack, error) {
	if base == nil {
		base = NewBase()
	}
	auth := &Auth{Base: base, AuthOptions: o.Auth}
	if err := auth.Validate(); err != nil {
		return nil, err
	}
	obs := new(Observer)
	*obs = o.Observer
	obs = obs.active()
	pace := &Pace{Base: auth, PaceOptions: o.Pace, obs: obs}
	return &Stack{retry: &Retry{Base: pace, RetryOptions: o.Retry, obs: obs}, pace: pace, auth: auth, obs: obs}, nil
}

// RoundTrip sends req through the stack (see [Retry.RoundTrip]).
func (s *Stack) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.obs == nil {
		return s.retry.RoundTrip(req)
	}
	return s.observedRoundTrip(req)
}

// observedRoundTrip is RoundTrip reporting the call to the Observer.
func (s *Stack) observedRoundTrip(req *http.Request) (resp *http.Response, err error) {
	if s.obs.CallStart != nil {
		if ctx := s.obs.CallStart(req.Context(), req); ctx != nil && ctx != req.Context() {
			req = req.WithContext(ctx)
		}
	}
	if s.obs.CallEnd != nil {
		defer func() { s.obs.CallEnd(req.Context(), resp, err) }()
	}
	return s.retry.RoundTrip(req)
}

// CheckRedirect is the redirect policy to pair with the stack in an
// [http.Client] (see [Auth.CheckRedirect]).
func (s *Stack) CheckRedirect(req *http.Request, via []*http.Request) error {
	return s.auth.CheckRedirect(req, via)
}

// CloseIdleConnections closes the idle connections of the base transport.
func (s *Stack) CloseIdleConnections() { s.retry.CloseIdleConnections() }
