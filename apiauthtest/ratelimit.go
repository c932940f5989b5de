package apiauthtest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit configures a family's fixed-window rate limit. Windows are
// aligned on multiples of Window on the server's clock (a one-minute window
// resets at the top of each server minute), and each principal (an API key,
// a logged-in user, or a client IP for requests without a valid credential)
// has its own count.
//
// The zero value means the family's documented defaults; see the fields.
type RateLimit struct {
	// Limit is the number of requests a valid credential may make per
	// window. Zero means 1000, the documented limit of both families.
	Limit int
	// Anonymous is the number of requests per window per client IP for
	// requests without a valid credential (including logins and refreshes).
	// Zero means 100 for Voltasis (its documented unauthenticated limit) and
	// Limit for AudiModal.
	Anonymous int
	// Window is the length of a window. Zero means one minute.
	Window time.Duration
}

// withDefaults returns rl with its zero fields filled in; anonymous is the
// family's default for Anonymous.
func (rl RateLimit) withDefaults(anonymous int) RateLimit {
	if rl.Limit == 0 {
		rl.Limit = 1000
	}
	if rl.Anonymous == 0 {
		rl.Anonymous = anonymous
		if rl.Anonymous == 0 {
			rl.Anonymous = rl.Limit
		}
	}
	if rl.Window == 0 {
		rl.Window = time.Minute
	}
	return rl
}

func (rl RateLimit) check(field string) {
	if rl.Limit < 0 || rl.Anonymous < 0 || rl.Window < 0 {
		panic(fmt.Sprintf("apiauthtest: %s has a negative field", field))
	}
}

// limiter counts requests per principal in fixed windows. It is safe for
// concurrent use.
type limiter struct {
	defaultAnon int

	mu      sync.Mutex
	cfg     RateLimit // with defaults applied
	buckets map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

// decision is the outcome of one request against the limiter.
type decision struct {
	limit     int
	remaining int
	reset     time.Time // end of the current window
	allowed   bool
}

func newLimiter(rl RateLimit, defaultAnon int) *limiter {
	l := &limiter{defaultAnon: defaultAnon, buckets: make(map[string]*bucket)}
	l.set(rl)
	return l
}

// set replaces the configuration. Counts in the current windows are kept.
func (l *limiter) set(rl RateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = rl.withDefaults(l.defaultAnon)
}

// take counts one request by principal at now. Anonymous principals get the
// Anonymous limit.
func (l *limiter) take(principal string, anonymous bool, now time.Time) decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.cfg.Limit
	if anonymous {
		limit = l.cfg.Anonymous
	}
	start := now.Truncate(l.cfg.Window)
	b := l.buckets[principal]
	if b == nil {
		b = &bucket{}
		l.buckets[principal] = b
	}
	if !b.start.Equal(start) {
		b.start, b.n = start, 0
	}
	b.n++
	return decision{
		limit:     limit,
		remaining: max(0, limit-b.n),
		reset:     start.Add(l.cfg.Window),
		allowed:   b.n <= limit,
	}
}

// resetEpoch is the end of the window as Unix seconds, rounded up so that a
// client waiting until then never comes back early.
func (d decision) resetEpoch() int64 {
	return d.reset.Add(time.Second - 1).Unix()
}

// retryAfter is the number of whole seconds from now until the window ends,
// at least 1.
func (d decision) retryAfter(now time.Time) int64 {
	return max(1, d.resetEpoch()-now.Unix())
}

// setHeaders writes AudiModal's X-RateLimit-* headers.
func (d decision) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.resetEpoch(), 10))
}

// clientIP is the principal of a request without a valid credential.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}
