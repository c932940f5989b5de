package transport

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// rlWindowLimiter is a server-side rate limiter for tests and benchmarks:
// limit requests per window, windows aligned to the clock, either a fixed
// window or a sliding-window counter (the previous window's count weighted
// by how much of it still overlaps the last window length, as Cloudflare and
// go-chi/httprate do). Refused requests are not counted against the limit.
type rlWindowLimiter struct {
	limit   int
	window  time.Duration
	sliding bool

	mu         sync.Mutex
	idx        int64 // index of the current window
	curr, prev int
	served     int
	refused    int
	stopAt     time.Time // when set, requests after it are not tallied
	arrivals   []time.Time
}

// take decides on a request arriving at now.
func (l *rlWindowLimiter) take(now time.Time) (ok bool, remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx := now.UnixNano() / int64(l.window)
	if idx != l.idx {
		if idx == l.idx+1 {
			l.prev = l.curr
		} else {
			l.prev = 0
		}
		l.curr, l.idx = 0, idx
	}
	start := time.Unix(0, idx*int64(l.window))
	reset = start.Add(l.window)
	used := float64(l.curr)
	if l.sliding {
		f := float64(now.Sub(start)) / float64(l.window)
		used += float64(l.prev) * (1 - f)
	}
	tally := l.stopAt.IsZero() || now.Before(l.stopAt)
	if tally {
		l.arrivals = append(l.arrivals, now)
	}
	if used+1 > float64(l.limit) {
		if tally {
			l.refused++
		}
		return false, 0, reset
	}
	l.curr++
	if tally {
		l.served++
	}
	return true, int(math.Floor(float64(l.limit) - used - 1)), reset
}

// preload makes the window containing now start with used requests spent.
func (l *rlWindowLimiter) preload(now time.Time, used int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idx = now.UnixNano() / int64(l.window)
	l.curr, l.prev = used, 0
}

func (l *rlWindowLimiter) counts() (served, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.served, l.refused
}

// respond answers a request AudiModal-style: X-RateLimit-* headers with an
// epoch-seconds reset, and on refusal a 429 with Retry-After and a
// RATE_LIMIT_EXCEEDED body.
func (l *rlWindowLimiter) respond(now time.Time, w http.ResponseWriter) {
	ok, remaining, reset := l.take(now)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if ok {
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
		return
	}
	after := int(math.Ceil(reset.Sub(now).Seconds()))
	if after < 1 {
		after = 1
	}
	h.Set("Retry-After", strconv.Itoa(after))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":%d}}`, after)
}

// roundTrip serves req in memory, for use as a fake Base.
func (l *rlWindowLimiter) roundTrip(req *http.Request) (*http.Response, error) {
	rec := rlNewMemResponse(req)
	l.respond(time.Now(), rec)
	return rec.response(), nil
}

// rlMemResponse is a minimal in-memory http.ResponseWriter.
type rlMemResponse struct {
	req    *http.Request
	header http.Header
	status int
	body   strings.Builder
}

func rlNewMemResponse(req *http.Request) *rlMemResponse {
	return &rlMemResponse{req: req, header: http.Header{}, status: http.StatusOK}
}

func (m *rlMemResponse) Header() http.Header         { return m.header }
func (m *rlMemResponse) WriteHeader(code int)        { m.status = code }
func (m *rlMemResponse) Write(b []byte) (int, error) { return m.body.Write(b) }

func (m *rlMemResponse) response() *http.Response {
	return &http.Response{
		StatusCode: m.status,
		Status:     fmt.Sprintf("%d %s", m.status, http.StatusText(m.status)),
		Header:     m.header,
		Body:       io.NopCloser(strings.NewReader(m.body.String())),
		Request:    m.req,
	}
}

// rlHeaderResponse returns a fake Base answering every request with status and
// the given header pairs, counting calls.
func rlHeaderResponse(calls *atomic.Int64, status int, kv ...string) testrt.Func {
	return func(req *http.Request) (*http.Response, error) {
		if calls != nil {
			calls.Add(1)
		}
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: status, Header: h, Body: http.NoBody, Request: req}, nil
	}
}
