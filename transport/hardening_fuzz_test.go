package transport

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"testing"
	"time"
)

// FuzzRetryResetWait fuzzes the X-RateLimit-Reset reader of the retry layer.
// It reads the header as Pace and CheckResponse do, through headerReset
// (issue 11: one parser per header; a reset of 950000000 was the year 2000
// for one reader and 2057 for another): it reports a wait exactly when
// headerReset finds a reset, the wait runs to that reset, and it is never
// negative.
func FuzzRetryResetWait(f *testing.F) {
	for _, s := range []string{
		"1640995200", "0", "30", " 60 ", "99999999", "100000000", "950000000", "-5", "1.5", "",
		"99999999999999", "9223372036854775807", "9223372036854775808", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT",
		"Wed, 21 Oct 2015 07:28:00 UTC", "1640995200123",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryResetWait(http.Header{"X-Ratelimit-Reset": {v}}, retryNow)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("retryResetWait(%q) = %v, %v", v, d, ok)
		}
		reset, _ := headerReset([]string{v}, retryNow, ResetAuto)
		if ok != !reset.IsZero() {
			t.Fatalf("retryResetWait(%q) ok = %v, but Pace's reader found reset %v", v, ok, reset)
		}
		if ok && d != max(reset.Sub(retryNow), 0) {
			t.Fatalf("retryResetWait(%q) = %v, Pace's reader says %v", v, d, reset.Sub(retryNow))
		}
	})
}

// FuzzRetryServerWait fuzzes what the retry layer reads from a 429 or 503
// before deciding to wait: the Retry-After and X-RateLimit-Reset headers and
// the body's retry_after. The wait is never negative, and the body the
// layer peeked at is handed back whole: the caller reads exactly the bytes
// the server sent, then the server's read error, if any.
func FuzzRetryServerWait(f *testing.F) {
	f.Add(429, "", "1640995200", []byte(`{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`), false)
	f.Add(503, "120", "", []byte(`{"error":{"code":"SERVICE_UNAVAILABLE"}}`), false)
	f.Add(503, "Fri, 31 Dec 1999 23:59:59 GMT", "", []byte(`<html>busy</html>`), true)
	f.Add(429, "", "30", []byte(``), false)
	f.Add(429, "-1", "-1", []byte(`{"retry_after":"1e400"}`), true)
	f.Add(200, "5", "5", []byte(`{"retry_after":5}`), false)
	f.Fuzz(func(t *testing.T, status int, retryAfter, reset string, body []byte, failRead bool) {
		if status < 0 {
			status = -status
		}
		status = 100 + status%500
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if reset != "" {
			h.Set("X-RateLimit-Reset", reset)
		}
		readErr := errors.New("connection reset")
		var rd io.Reader = bytes.NewReader(body)
		if failRead {
			rd = io.MultiReader(rd, fuzzErrReader{readErr})
		}
		resp := &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(rd), ContentLength: -1}
		d, ok := retryServerWait(resp, retryNow)
		if d < 0 || d > time.Duration(math.MaxInt64) || (!ok && d != 0) {
			t.Fatalf("retryServerWait = %v, %v", d, ok)
		}
		if ok && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
			t.Fatalf("status %d asked for a wait", status)
		}
		got, err := io.ReadAll(resp.Body)
		if !bytes.Equal(got, body) {
			t.Fatalf("caller reads %d bytes, the server sent %d", len(got), len(body))
		}
		if failRead != (err != nil) || (err != nil && !errors.Is(err, readErr)) {
			t.Fatalf("caller's read error %v, failRead %v", err, failRead)
		}
	})
}

type fuzzErrReader struct{ err error }

func (r fuzzErrReader) Read([]byte) (int, error) { return 0, r.err }
