package transport

import (
	"fmt"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"
)

// RateLimitError reports a request that was not sent, or not retried, because
// the rate limit would not let it through within the caller's maximum wait.
// It matches apiauth.ErrRateLimited under errors.Is. When the decision came
// from a server's answer (a 429 whose Retry-After is past the maximum wait),
// Err holds the decoded API error; when the layer decided from its snapshot
// without touching the network, Err is nil.
type RateLimitError struct {
	// Reset is when the server is expected to accept requests again.
	Reset time.Time
	// RetryAfter is the wait the server (or the snapshot) asked for, measured
	// from the moment the decision was taken.
	RetryAfter time.Duration
	// MaxWait is the longest wait the caller allowed; zero if none applied.
	MaxWait time.Duration
	// Err is the underlying API error, if any.
	Err error
}

func init() {
	errkind.Register(func(err error) bool {
		switch err.(type) {
		case *RateLimitError, *InsecureError:
			return true
		}
		return false
	})
}

// Error describes the limit without any credential or request detail.
func (e *RateLimitError) Error() string {
	s := fmt.Sprintf("apiauth: rate limited: retry after %s", e.RetryAfter.Round(time.Millisecond))
	if !e.Reset.IsZero() {
		s += " (at " + e.Reset.UTC().Format(time.RFC3339) + ")"
	}
	if e.MaxWait > 0 {
		s += fmt.Sprintf(", past the maximum wait of %s", e.MaxWait)
	}
	return s
}

// Is reports whether target is apiauth.ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == errkind.RateLimited }

// Unwrap returns the underlying API error, if any.
func (e *RateLimitError) Unwrap() error { return e.Err }
