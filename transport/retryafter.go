package transport

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryMaxSeconds is the largest whole number of seconds a time.Duration can
// hold; longer server waits are clamped to it rather than overflowing.
const retryMaxSeconds = math.MaxInt64 / int64(time.Second)

// RetryAfter returns the wait the Retry-After header of resp asks for,
// measured from now, and whether resp carries a valid one. Both forms of
// RFC 9110 are accepted: delay-seconds ("Retry-After: 120") and an HTTP-date
// ("Retry-After: Fri, 31 Dec 1999 23:59:59 GMT", also in the obsolete RFC 850
// and ANSI C forms). A date in the past gives a zero wait; a number too large
// for a [time.Duration] is clamped to the largest one. A nil resp, a missing,
// negative, fractional or otherwise malformed header reports false.
//
// Only the first Retry-After value is read. RetryAfter does not look at the
// body; see [RetryAfterFromBody] for a body-only retry_after.
func RetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	return retryParseRetryAfter(resp.Header.Get("Retry-After"), now)
}

// retryParseRetryAfter parses one Retry-After header value.
func retryParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if retryAllDigits(v) {
		return retrySeconds(v)
	}
	t, ok := parseHTTPDate(v)
	if !ok {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// retryAllDigits reports whether s is a non-empty run of ASCII digits: the
// delay-seconds grammar, which has no sign, no fraction and no spaces.
func retryAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// retrySeconds converts a string of digits to a duration in seconds, clamped
// to the largest duration.
func retrySeconds(digits string) (time.Duration, bool) {
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > retryMaxSeconds {
		// Only a range error is possible for a run of digits.
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(n) * time.Second, true
}

// RetryAfterFromBody returns the wait a JSON error body asks for in a
// retry_after field, in seconds, and whether it found a valid one. It reads
// the shape some APIs send, with the field only in the body:
//
//	{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}
//
// and a top-level {"retry_after":60}. The value may be a JSON number
// (fractions allowed: 1.5 is 1.5 s) or a string holding one. Negative,
// non-finite or non-numeric values, and bodies that are not a JSON object,
// report false; values too large for a [time.Duration] are clamped to the
// largest one. The caller bounds how much of the body it passes in.
func RetryAfterFromBody(body []byte) (time.Duration, bool) {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(body) == 0 || body[0] != '{' {
		return 0, false
	}
	var top struct {
		Error      json.RawMessage `json:"error"`
		RetryAfter json.RawMessage `json:"retry_after"`
	}
	if json.Unmarshal(body, &top) != nil {
		return 0, false
	}
	if e := bytes.TrimSpace(top.Error); len(e) > 0 && e[0] == '{' {
		var inner struct {
			RetryAfter json.RawMessage `json:"retry_after"`
		}
		if json.Unmarshal(e, &inner) == nil {
			if d, ok := retryJSONSeconds(inner.RetryAfter); ok {
				return d, true
			}
		}
	}
	return retryJSONSeconds(top.RetryAfter)
}

// retryJSONSeconds converts a JSON number, or a JSON string holding one, to a
// duration in seconds.
func retryJSONSeconds(raw json.RawMessage) (time.Duration, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	if retryAllDigits(s) {
		return retrySeconds(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	if f >= float64(retryMaxSeconds) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(f * float64(time.Second)), true
}

// retryResetWait returns the wait until the X-RateLimit-Reset header of h,
// measured from now, read as Pace and CheckResponse read it (headerReset:
// epoch seconds or milliseconds, or seconds from now, told apart by
// magnitude against the clock; or a date). A reset in the past gives a zero
// wait.
func retryResetWait(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Values("X-RateLimit-Reset")
	if len(v) == 0 {
		return 0, false
	}
	t, _ := headerReset(v, now, ResetAuto)
	if t.IsZero() {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
