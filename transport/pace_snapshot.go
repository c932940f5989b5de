package transport

import "time"

// PaceState is a snapshot of what a [Pace] knows of one budget: one host
// and credential identity. [Pace.State] returns them. It holds no secret:
// the identity is what [PaceOptions.Identity] returns, a hash of the
// credential by default (and with the root package), never the credential
// itself; so a PaceState is safe to print, log and encode as it is. It is a
// plain value. Counts follow [RateLimit]: -1 when unknown.
type PaceState struct {
	// Host is the requests' host (and port, if any).
	Host string `json:"host"`
	// Identity names the credential the requests were sent with.
	Identity string `json:"identity,omitempty"`
	// Limit is the requests allowed per window, as the server last said;
	// -1 if it never did.
	Limit int64 `json:"limit"`
	// Remaining is the requests left in the window, as the last answer
	// that told (at Observed) said, or as Pace counts it once it has moved
	// on to a new window of a known fixed-window server; -1 if no answer
	// told yet. Requests in flight are not subtracted.
	Remaining int64 `json:"remaining"`
	// Reset is when the budget comes back, capped at [PaceMaxReset] from
	// the answer; zero if unknown.
	Reset time.Time `json:"reset,omitzero"`
	// Window is the quota window, from RateLimit-Policy or learned from
	// how far the reset moves at a new window; zero until known. With
	// Limit it gives the rate the server allows. In JSON it is in
	// nanoseconds, as encoding/json encodes a time.Duration.
	Window time.Duration `json:"window,omitempty"`
	// Sliding reports that the server was seen counting usage over a
	// sliding window: the budget comes back gradually, at Limit per
	// Window, rather than in full at Reset.
	Sliding bool `json:"sliding,omitempty"`
	// InFlight is the number of requests sent and not yet answered.
	InFlight int `json:"in_flight"`
	// Observed is when the last answer with a remaining count arrived;
	// zero if none did.
	Observed time.Time `json:"observed,omitzero"`
}

// State returns a snapshot of every budget the layer keeps (at most
// MaxKeys), most recently used first. It is safe to call concurrently with
// requests: it holds the layer's lock while it copies the states, and
// never waits for a request. A Pace that has sent nothing returns none.
func (p *Pace) State() []PaceState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PaceState, 0, p.lru.Len())
	for el := p.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*paceEntry)
		s := PaceState{
			Host:      e.host,
			Identity:  e.key.id,
			Limit:     -1,
			Remaining: -1,
			Reset:     e.reset.Round(0),
			Window:    e.window,
			Sliding:   e.isSliding(),
			InFlight:  e.inflight,
			Observed:  e.observed.Round(0),
		}
		if e.limit > 0 {
			s.Limit = e.limit
		}
		if e.limited {
			s.Remaining = e.remaining
		}
		out = append(out, s)
	}
	return out
}

// RateLimitState returns the snapshot of the stack's rate-limit layer (see
// [Pace.State]): what it knows of each host and credential's budget.
func (s *Stack) RateLimitState() []PaceState { return s.pace.State() }
