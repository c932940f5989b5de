package transport

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

var retryNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		header string // Retry-After value; "-" means absent
		want   time.Duration
		ok     bool
	}{
		{"seconds", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"padded", " 7 ", 7 * time.Second, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"IMF-fixdate future", retryNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"IMF-fixdate past", "Fri, 31 Dec 1999 23:59:59 GMT", 0, true},
		{"RFC 850 date", "Friday, 01-Mar-24 12:00:30 GMT", 30 * time.Second, true},
		{"ANSI C date", "Fri Mar  1 12:01:00 2024", time.Minute, true},
		{"huge seconds clamp", "99999999999999999999999", time.Duration(math.MaxInt64), true},
		{"largest exact", strconv.FormatInt(retryMaxSeconds, 10), time.Duration(retryMaxSeconds) * time.Second, true},
		{"negative", "-1", 0, false},
		{"plus sign", "+5", 0, false},
		{"fraction", "1.5", 0, false},
		{"garbage", "soon", 0, false},
		{"empty", "", 0, false},
		{"absent", "-", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tt.header != "-" {
				resp.Header.Set("Retry-After", tt.header)
			}
			got, ok := RetryAfter(resp, retryNow)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
	if d, ok := RetryAfter(nil, retryNow); d != 0 || ok {
		t.Errorf("RetryAfter(nil) = %v, %v; want 0, false", d, ok)
	}
}

func TestRetryAfterFromBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want time.Duration
		ok   bool
	}{
		{"AudiModal 429", `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`, 60 * time.Second, true},
		{"top level", `{"retry_after":5}`, 5 * time.Second, true},
		{"string value", `{"error":{"retry_after":"12"}}`, 12 * time.Second, true},
		{"fraction", `{"retry_after":1.5}`, 1500 * time.Millisecond, true},
		{"exponent", `{"retry_after":1e1}`, 10 * time.Second, true},
		{"zero", `{"retry_after":0}`, 0, true},
		{"surrounding space", " \n{\"retry_after\":3}\n", 3 * time.Second, true},
		{"error is a string", `{"error":"slow down","retry_after":4}`, 4 * time.Second, true},
		{"inner invalid, top valid", `{"error":{"retry_after":"x"},"retry_after":2}`, 2 * time.Second, true},
		{"huge clamps", `{"retry_after":1e300}`, time.Duration(math.MaxInt64), true},
		{"huge integer clamps", `{"retry_after":123456789012345678901234567890}`, time.Duration(math.MaxInt64), true},
		{"negative", `{"retry_after":-1}`, 0, false},
		{"null", `{"error":{"retry_after":null}}`, 0, false},
		{"bool", `{"retry_after":true}`, 0, false},
		{"NaN string", `{"retry_after":"NaN"}`, 0, false},
		{"Inf string", `{"retry_after":"+Inf"}`, 0, false},
		{"missing", `{"error":{"code":"RATE_LIMIT_EXCEEDED"}}`, 0, false},
		{"array", `[{"retry_after":1}]`, 0, false},
		{"truncated", `{"error":{"retry_after":60`, 0, false},
		{"not JSON", `rate limited, retry after 60`, 0, false},
		{"empty", ``, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RetryAfterFromBody([]byte(tt.body))
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfterFromBody(%s) = %v, %v; want %v, %v", tt.body, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRetryResetWait(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
	}{
		{"epoch ahead", strconv.FormatInt(retryNow.Unix()+42, 10), 42 * time.Second, true},
		{"epoch past", strconv.FormatInt(retryNow.Unix()-42, 10), 0, true},
		{"delta seconds", "30", 30 * time.Second, true},
		{"far future clamps", "99999999999999", time.Duration(math.MaxInt64), true},
		{"too long", "999999999999999999999", 0, false},
		{"negative", "-5", 0, false},
		{"absent", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set("X-RateLimit-Reset", tt.value)
			}
			got, ok := retryResetWait(h, retryNow)
			if got != tt.want || ok != tt.ok {
				t.Errorf("retryResetWait(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Fri, 31 Dec 1999 23:59:59 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "-1", "1.5", "", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		resp := &http.Response{Header: http.Header{"Retry-After": {v}}}
		d, ok := RetryAfter(resp, retryNow)
		if d < 0 {
			t.Fatalf("RetryAfter(%q) = %v, negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("RetryAfter(%q) = %v, false; want a zero wait when not ok", v, d)
		}
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && retryAllDigits(v) {
			if want := time.Duration(n) * time.Second; !ok || d != want {
				t.Fatalf("RetryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
			}
		}
	})
}

func FuzzRetryAfterFromBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`,
		`{"retry_after":1.5}`, `{"error":{"retry_after":"12"}}`, `{"detail":"Not authenticated"}`,
		`{"error":"x","retry_after":-3}`, `{"retry_after":1e400}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, ok := RetryAfterFromBody(body)
		if d < 0 {
			t.Fatalf("RetryAfterFromBody(%q) = %v, negative", body, d)
		}
		if !ok && d != 0 {
			t.Fatalf("RetryAfterFromBody(%q) = %v, false; want a zero wait when not ok", body, d)
		}
		if d2, ok2 := RetryAfterFromBody(body); d2 != d || ok2 != ok {
			t.Fatalf("RetryAfterFromBody(%q) not deterministic", body)
		}
	})
}
