package apiauth

import "time"

// CacheStatus says what a [TokenCache] would do for a call to Token now; it
// is the Status of a [CacheState]. It is a string so that it reads as
// itself in logs and JSON.
type CacheStatus string

// The values of [CacheStatus].
const (
	// CacheFresh: a valid token is served as it is; no refresh is due.
	CacheFresh CacheStatus = "fresh"
	// CacheStale: the token is inside its refresh-ahead window. It is
	// still served, while a background refresh runs (or starts at the
	// next call).
	CacheStale CacheStatus = "stale"
	// CacheWaiting: no token can be served (none was fetched yet, it is
	// inside its expiry margin, or the API rejected it): the next call
	// waits for a refresh.
	CacheWaiting CacheStatus = "waiting"
	// CacheFailing: the last refresh failed. Calls get the previous
	// token while it is valid (Expiry is then in the future), else a
	// [*RefreshError], until the retry at NextAttempt succeeds.
	CacheFailing CacheStatus = "failing"
	// CacheClosed: Close was called.
	CacheClosed CacheStatus = "closed"
)

// CacheState is a snapshot of what a [TokenCache] knows, for health
// endpoints, metrics and logs; [TokenCache.State] returns it. It holds no
// secret: neither the token nor anything derived from it, so it is safe to
// print, log and encode as it is. It is a plain value.
type CacheState struct {
	// Status sums the state up.
	Status CacheStatus `json:"status"`
	// Expiry is when the current token expires, on the local clock
	// (corrected for the server's clock when its JWT tells); zero when
	// the cache holds no token.
	Expiry time.Time `json:"expiry,omitzero"`
	// Refreshing reports whether a refresh is in flight.
	Refreshing bool `json:"refreshing,omitempty"`
	// Failures counts the consecutive failed refreshes; zero after a
	// success.
	Failures int `json:"failures,omitempty"`
	// LastError is the message of the last failed refresh's cause, as
	// [RefreshError] shows it (apiauth's errors keep secrets out of their
	// messages); empty after a success.
	LastError string `json:"last_error,omitempty"`
	// NextAttempt is, after a failure, the earliest time the cache tries
	// again; zero when no failure holds refreshes back.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// State returns a snapshot of the cache's state. It is safe to call
// concurrently with Token and refreshes, takes the cache's lock for a few
// field reads and never waits for a refresh, fetches nothing and starts
// no refresh: it is cheap enough for every health check.
//
// A source that hands back the token the cache already has
// ([ErrTokenUnchanged]) while it is valid counts in Failures and LastError,
// as the cache backs off, but does not make the Status CacheFailing: it is
// the normal answer of a source that caches on its own.
func (c *TokenCache) State() CacheState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return CacheState{Status: CacheClosed}
	}
	s := CacheState{Refreshing: c.fl != nil, Failures: c.failures}
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
		s.NextAttempt = c.next.Round(0)
	}
	now := time.Now()
	e := c.cur.Load()
	if e != nil {
		s.Expiry = e.expiry.Round(0) // no monotonic reading in prints
	}
	valid := e != nil && !e.invalid && now.Before(e.expiry)
	switch {
	case c.lastErr != nil && !(c.lastErr == ErrTokenUnchanged && valid):
		s.Status = CacheFailing
	case e == nil || e.invalid || !now.Before(e.invalidAt):
		s.Status = CacheWaiting
	case !now.Before(e.staleAt):
		s.Status = CacheStale
	default:
		s.Status = CacheFresh
	}
	return s
}
