package apiauth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/transport"
)

// errorBodySeeds are the documented error bodies of the four API families,
// plus the awkward shapes CheckResponse must survive.
var errorBodySeeds = []string{
	`{"detail":"Not authenticated"}`,
	`{"detail":"Invalid authentication credentials"}`,
	`{"detail":"User has no organization or not authorized"}`,
	`{"detail":[{"loc":["body","user_id"],"msg":"field required","type":"value_error.missing"}]}`,
	`{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing authentication token"}}`,
	`{"error":{"code":"FORBIDDEN","message":"Insufficient permissions for this resource"}}`,
	`{"error":{"code":"INVALID_API_KEY","message":"Invalid or expired API key"}}`,
	`{"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"Insufficient permissions for this operation","required_role":"admin"}}`,
	`{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`,
	`{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`,
	`{"error":"invalid_grant","error_description":"refresh token already used"}`,
	`{"error":"something went wrong"}`,
	`{"message":"already exists","code":409}`,
	`{"error":{"code":"TOKEN_EXPIRED","retry_after":1e300,"expires_at":-1}}`,
	`{"detail":{"msg":"nested"}}`,
	`{"detail":[1,"two",null,{"loc":[0,"x"]}]}`,
	`{"error":{"message":"key sk_live_ABCDEFGH leaked, Bearer eyJhbGciOi.eyJzdWIi.sig"}}`,
	`{"error":{"code":"INVALID_API_KEY","mess`,
	"<html><body>502 Bad Gateway</body></html>",
	"",
	"null",
	"\ufeff{}",
}

func FuzzDecodeErrorBody(f *testing.F) {
	for _, s := range errorBodySeeds {
		f.Add([]byte(s))
	}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.test/v1/things?q=1", nil)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		d := decodeErrorBody(body)
		if d.rawDetail != nil && !json.Valid(d.rawDetail) {
			t.Errorf("rawDetail %q is not JSON", d.rawDetail)
		}

		resp := &http.Response{StatusCode: 400, Header: http.Header{}, Request: req}
		e := newAPIError(resp, body, now, nil)
		if e.RetryAfter < 0 || e.RetryAfter > maxServerWait {
			t.Errorf("RetryAfter = %v out of range", e.RetryAfter)
		}
		if r, ok := transport.RetryAfterFromBody(body); ok && e.RetryAfter != min(r, maxServerWait) {
			t.Errorf("RetryAfter = %v, but the retry layer reads %v from the body", e.RetryAfter, r)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "apiauth: 400 Bad Request") {
			t.Errorf("Error() = %q", msg)
		}
		if strings.ContainsAny(msg, "\n\r\t\x00") {
			t.Errorf("Error() has control characters: %q", msg)
		}
		// No word of the message looks like a credential.
		for w := range strings.FieldsFuncSeq(msg, func(r rune) bool { return r > 127 || !isMaskWordByte(byte(r)) }) {
			if credentialWord(w) {
				t.Errorf("Error() shows credential-like %q: %q", w, msg)
			}
		}
		if len(msg) > 4*maxShownText {
			t.Errorf("Error() is %d bytes long", len(msg))
		}
	})
}

// errRetryAfter is the RetryAfter of the *Error built from an answer whose
// Retry-After header is v, sent by a server whose clock reads now.
func errRetryAfter(v string, now time.Time) time.Duration {
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}, "Date": {now.Format(http.TimeFormat)}}}
	return newAPIError(resp, nil, now, nil).RetryAfter
}

// The *Error reads Retry-After through the retry layer's reader
// (transport.RetryAfter), capped at maxServerWait: one parser per header.
func FuzzRetryAfterHeaderDelay(f *testing.F) {
	for _, s := range []string{
		"60", "0", "120", " 5 ", "007", "1.5", "-1", "+3", "",
		"99999999999999999999999", "3155760000", "3155759999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Wed, 21 Oct 2015 07:29:00 UTC", "tomorrow",
	} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return // not a header value
		}
		d := errRetryAfter(v, now)
		if d < 0 || d > maxServerWait {
			t.Errorf("RetryAfter for %q = %v out of range", v, d)
		}
		want, _ := transport.RetryAfter(&http.Response{Header: http.Header{"Retry-After": {v}}}, now)
		if d != min(want, maxServerWait) {
			t.Errorf("RetryAfter for %q = %v, the retry layer reads %v", v, d, want)
		}
	})
}

func TestRetryAfterHeaderDelay(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"60", time.Minute},
		{" 0 ", 0},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second},
		{"Wed, 21 Oct 2015 07:28:30 UTC", 30 * time.Second}, // RFC 1123 with UTC
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute},
		{"Wed Oct 21 07:28:05 2015", 5 * time.Second},
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0}, // in the past: no wait
		{"99999999999999999999999", maxServerWait},
		{"-1", 0},
		{"1.5", 0},
		{"", 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := errRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("Retry-After %q: RetryAfter = %v, want %v", tc.in, got, tc.want)
		}
	}
}
