package apiauthtest

import (
	"net/http"
	"sync/atomic"
)

// FamilyStats counts what one family of the fake has done since the server
// started. It is a plain value: a snapshot taken by [Server.Stats].
type FamilyStats struct {
	// Requests is the number of requests received under the family's
	// prefix, including those answered with an injected fault.
	Requests int64
	// TokensIssued counts credentials handed out: Artos access tokens from
	// POST /get-access-token, AudiModal access tokens from login and
	// refresh, Voltasis API keys from POST /api/v1/api-keys. Tokens minted
	// with the Mint* methods are not counted.
	TokensIssued int64
	// Logins counts successful AudiModal logins.
	Logins int64
	// Refreshes counts successful AudiModal refreshes.
	Refreshes int64
	// RefreshRejections counts AudiModal refresh requests refused because
	// the refresh token was unknown, already used, malformed or expired.
	RefreshRejections int64
	// Unauthorized counts 401 answers.
	Unauthorized int64
	// Forbidden counts 403 answers.
	Forbidden int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// Faults counts requests answered with an injected fault (see
	// [Server.FailRequests] and [Server.FailTokenRequests]).
	Faults int64
}

// Stats is a snapshot of the server's counters, one [FamilyStats] per family.
type Stats struct {
	Artos     FamilyStats
	Artanis   FamilyStats
	Voltasis  FamilyStats
	AudiModal FamilyStats
}

// Total returns the sum of the four families' counters.
func (s Stats) Total() FamilyStats {
	var t FamilyStats
	for _, f := range []FamilyStats{s.Artos, s.Artanis, s.Voltasis, s.AudiModal} {
		t.Requests += f.Requests
		t.TokensIssued += f.TokensIssued
		t.Logins += f.Logins
		t.Refreshes += f.Refreshes
		t.RefreshRejections += f.RefreshRejections
		t.Unauthorized += f.Unauthorized
		t.Forbidden += f.Forbidden
		t.RateLimited += f.RateLimited
		t.Faults += f.Faults
	}
	return t
}

// counters is the live, atomic form of FamilyStats.
type counters struct {
	requests, tokensIssued, logins, refreshes, refreshRejections atomic.Int64
	unauthorized, forbidden, rateLimited, faults                 atomic.Int64
}

func (c *counters) snapshot() FamilyStats {
	return FamilyStats{
		Requests:          c.requests.Load(),
		TokensIssued:      c.tokensIssued.Load(),
		Logins:            c.logins.Load(),
		Refreshes:         c.refreshes.Load(),
		RefreshRejections: c.refreshRejections.Load(),
		Unauthorized:      c.unauthorized.Load(),
		Forbidden:         c.forbidden.Load(),
		RateLimited:       c.rateLimited.Load(),
		Faults:            c.faults.Load(),
	}
}

// countStatus records the status of a finished response.
func (c *counters) countStatus(status int) {
	switch status {
	case http.StatusUnauthorized:
		c.unauthorized.Add(1)
	case http.StatusForbidden:
		c.forbidden.Add(1)
	case http.StatusTooManyRequests:
		c.rateLimited.Add(1)
	}
}

// statusRecorder remembers the status written through it. Unwrap lets
// http.ResponseController reach the underlying writer (to hijack it).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
