package apiauthtest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault describes how the server fails a request instead of answering it.
// At most one of Hang, MalformedJSON and ResetConnection should be set; when
// several are, ResetConnection wins, then Hang, then MalformedJSON. With none
// set the request is answered with Status.
//
// The zero value is a 500 Internal Server Error with the family's error body.
type Fault struct {
	// Status is the HTTP status of the answer; zero means 500. The body is
	// the family's error shape for that status (for example
	// {"detail":"Service Unavailable"} for Artos,
	// {"error":{"code":"SERVICE_UNAVAILABLE",...}} for Voltasis and
	// AudiModal, plain text for Artanis).
	Status int
	// RetryAfter, when positive, adds a Retry-After header: whole seconds,
	// rounded up, or an HTTP-date when RetryAfterDate is set.
	RetryAfter time.Duration
	// RetryAfterDate sends Retry-After as an HTTP-date computed from the
	// server's clock (so it reflects the clock offset) instead of seconds.
	RetryAfterDate bool
	// Hang sends no answer: the handler waits until the client gives up
	// (the request's context ends) or the server is closed, which drops
	// the connection.
	Hang bool
	// MalformedJSON answers 200 with Content-Type application/json and a
	// truncated JSON body.
	MalformedJSON bool
	// ResetConnection hijacks the connection and closes it with SO_LINGER
	// 0, so the client sees a connection reset and no response.
	ResetConnection bool
}

// malformedJSON is the body sent for a Fault with MalformedJSON: a token
// response cut in the middle of its string.
const malformedJSON = `{"access_token":"eyJhbGciOiJIUzI1NiIs`

// faultQueue holds the faults waiting for requests, in order. It is safe for
// concurrent use.
type faultQueue struct {
	mu sync.Mutex
	// all applies to every request, token applies to token requests only
	// (Artos POST /get-access-token, AudiModal POST /v1/auth/login and
	// /v1/auth/refresh). Each entry is consumed by one request.
	all, token []Fault
}

func (q *faultQueue) add(n int, f Fault, tokenOnly bool) {
	if n < 0 {
		panic(fmt.Sprintf("apiauthtest: negative fault count %d", n))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for range n {
		if tokenOnly {
			q.token = append(q.token, f)
		} else {
			q.all = append(q.all, f)
		}
	}
}

// next pops the fault for the next request, if any. Faults for every
// request are served before token-only faults.
func (q *faultQueue) next(isToken bool) (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.all) > 0 {
		f := q.all[0]
		q.all = q.all[1:]
		return f, true
	}
	if isToken && len(q.token) > 0 {
		f := q.token[0]
		q.token = q.token[1:]
		return f, true
	}
	return Fault{}, false
}

func (q *faultQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.all, q.token = nil, nil
}

// FailRequests makes the next n requests to any family fail with f, in the
// order they arrive. Calls queue up: FailRequests(2, a) then
// FailRequests(1, b) fails two requests with a, then one with b. It is safe
// for concurrent use.
func (s *Server) FailRequests(n int, f Fault) { s.faults.add(n, f, false) }

// FailTokenRequests makes the next n token requests fail with f: Artos
// POST /get-access-token and AudiModal POST /v1/auth/login and
// POST /v1/auth/refresh. Other requests are not affected. Faults queued with
// [Server.FailRequests] are served first. It is safe for concurrent use.
func (s *Server) FailTokenRequests(n int, f Fault) { s.faults.add(n, f, true) }

// ClearFaults drops every fault still queued. It is safe for concurrent use.
func (s *Server) ClearFaults() { s.faults.clear() }

// inject answers r with fault f, shaped for family fam.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, fam family, f Fault) {
	switch {
	case f.ResetConnection:
		resetConnection(w)
	case f.Hang:
		s.wait(r, nil)              // until the client gives up or the server closes
		panic(http.ErrAbortHandler) // never an empty 200 a racing client could read
	case f.MalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(malformedJSON))
	default:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter > 0 {
			if f.RetryAfterDate {
				w.Header().Set("Retry-After", s.Now().Add(f.RetryAfter).UTC().Format(http.TimeFormat))
			} else {
				secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			}
		}
		fam.writeStatus(w, status)
	}
}

// resetConnection hijacks the connection behind w and closes it with
// SO_LINGER 0, which makes the kernel send a TCP RST.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		raw = nc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	// Close the TCP connection itself: closing a *tls.Conn would first send
	// a close_notify alert, which the client reads as a clean EOF.
	_ = raw.Close()
}
