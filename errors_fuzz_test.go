package apiauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
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
		if d.retryAfter < 0 || d.retryAfter > maxServerWait {
			t.Errorf("retryAfter = %v out of range", d.retryAfter)
		}
		if d.rawDetail != nil && !json.Valid(d.rawDetail) {
			t.Errorf("rawDetail %q is not JSON", d.rawDetail)
		}

		resp := &http.Response{StatusCode: 400, Header: http.Header{}, Request: req}
		e := newAPIError(resp, body, now, nil)
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

func FuzzRetryAfterHeaderDelay(f *testing.F) {
	for _, s := range []string{
		"60", "0", "120", " 5 ", "007", "1.5", "-1", "+3", "",
		"99999999999999999999999", "3155760000", "3155759999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Fri, 31 Dec 9999 23:59:59 GMT", "tomorrow",
	} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfterHeaderDelay(v, now)
		if !ok && d != 0 {
			t.Errorf("retryAfterHeaderDelay(%q) = %v, false: want zero on failure", v, d)
		}
		if d < 0 || d > maxServerWait {
			t.Errorf("retryAfterHeaderDelay(%q) = %v out of range", v, d)
		}
		s := strings.TrimSpace(v)
		if isDelaySeconds(s) {
			if !ok {
				t.Errorf("retryAfterHeaderDelay(%q) rejected delay-seconds", v)
			}
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n < int64(maxServerWait/time.Second) && d != time.Duration(n)*time.Second {
				t.Errorf("retryAfterHeaderDelay(%q) = %v, want %ds", v, d, n)
			}
		}
	})
}

func TestRetryAfterHeaderDelay(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"60", time.Minute, true},
		{" 0 ", 0, true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true},
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},
		{"Wed Oct 21 07:28:05 2015", 5 * time.Second, true},
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true}, // in the past: no wait
		{"99999999999999999999999", maxServerWait, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		got, ok := retryAfterHeaderDelay(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("retryAfterHeaderDelay(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}
