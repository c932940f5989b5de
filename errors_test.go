package apiauth_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/testrt"
	"github.com/apiauth/apiauth/transport"
)

// errKinds are the sentinels an *Error can match, by name for messages.
var errKinds = []struct {
	name string
	err  error
}{
	{"ErrUnauthorized", apiauth.ErrUnauthorized},
	{"ErrForbidden", apiauth.ErrForbidden},
	{"ErrNotFound", apiauth.ErrNotFound},
	{"ErrRateLimited", apiauth.ErrRateLimited},
	{"ErrTokenExpired", apiauth.ErrTokenExpired},
	{"ErrInvalidAPIKey", apiauth.ErrInvalidAPIKey},
	{"ErrInsufficientPermissions", apiauth.ErrInsufficientPermissions},
	{"ErrServer", apiauth.ErrServer},
	{"ErrInvalidCredential", apiauth.ErrInvalidCredential},
	{"ErrInsecureTransport", apiauth.ErrInsecureTransport},
	{"ErrTokenRefresh", apiauth.ErrTokenRefresh},
	{"ErrClosed", apiauth.ErrClosed},
}

// errHeader builds a canonical header from name, value pairs.
func errHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const (
	errTestURL    = "https://user:hunter2@api.example.test/v1/things/42?api_key=querysecret&page=2"
	errTestPath   = "/v1/things/42"
	errTestBearer = "Bearer sk_live_HEADERSECRET0123456789"
)

// errSynctestStart is the fake clock's start inside a synctest bubble.
var errSynctestStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var errHugeBody = `{"detail":"` + strings.Repeat("a", 2<<20) + `"}`

type errCase struct {
	name   string
	status int
	header http.Header
	body   string
	want   apiauth.Error // Method, Path and Body are checked for every row
	is     []error       // the sentinels it must match; it must match no other
	// rate-limit rows: a *RateLimitError with these values
	rateLimited bool
	reset       time.Time
	rlRetry     time.Duration
}

var errCases = []errCase{
	// Artos (seeds 000, 001).
	{
		name: "artos 401 not authenticated", status: 401,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"detail":"Not authenticated"}`,
		want:   apiauth.Error{StatusCode: 401, Detail: "Not authenticated"},
		is:     []error{apiauth.ErrUnauthorized},
	},
	{
		name: "artos 401 invalid credentials", status: 401,
		header: errHeader("Content-Type", "application/json", "X-Request-ID", "artos-req-1"),
		body:   `{"detail":"Invalid authentication credentials"}`,
		want:   apiauth.Error{StatusCode: 401, Detail: "Invalid authentication credentials", RequestID: "artos-req-1"},
		is:     []error{apiauth.ErrUnauthorized},
	},
	{
		name: "artos 403 wrong organization", status: 403,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"detail":"User has no organization or not authorized"}`,
		want:   apiauth.Error{StatusCode: 403, Detail: "User has no organization or not authorized"},
		is:     []error{apiauth.ErrForbidden},
	},
	{
		name: "fastapi 422 list detail", status: 422,
		header: errHeader("Content-Type", "application/json"),
		body: `{"detail":[{"loc":["body","user_id"],"msg":"field required","type":"value_error.missing"},` +
			`{"loc":["body","items",0,"name"],"msg":"str type expected","type":"type_error.str","input":{"password":"pw-secret"}}]}`,
		want: apiauth.Error{StatusCode: 422, Detail: "body.user_id: field required; body.items[0].name: str type expected"},
	},
	// Artanis (seed 002): status only.
	{
		name: "artanis 401 no body", status: 401,
		want: apiauth.Error{StatusCode: 401},
		is:   []error{apiauth.ErrUnauthorized},
	},
	{
		name: "artanis 403 no body", status: 403,
		want: apiauth.Error{StatusCode: 403},
		is:   []error{apiauth.ErrForbidden},
	},
	{
		name: "artanis 404 no body", status: 404,
		want: apiauth.Error{StatusCode: 404},
		is:   []error{apiauth.ErrNotFound},
	},
	{
		name: "artanis 401 plain text body", status: 401,
		header: errHeader("Content-Type", "text/plain; charset=utf-8"),
		body:   "Unauthorized\n",
		want:   apiauth.Error{StatusCode: 401},
		is:     []error{apiauth.ErrUnauthorized},
	},
	// Voltasis (seed 003).
	{
		name: "voltasis UNAUTHORIZED", status: 401,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing authentication token"}}`,
		want:   apiauth.Error{StatusCode: 401, Code: "UNAUTHORIZED", Message: "Invalid or missing authentication token"},
		is:     []error{apiauth.ErrUnauthorized},
	},
	{
		name: "voltasis FORBIDDEN", status: 403,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"error":{"code":"FORBIDDEN","message":"Insufficient permissions for this resource"}}`,
		want:   apiauth.Error{StatusCode: 403, Code: "FORBIDDEN", Message: "Insufficient permissions for this resource"},
		is:     []error{apiauth.ErrForbidden},
	},
	// AudiModal (seed 004).
	{
		name: "audimodal INVALID_API_KEY", status: 401,
		header: errHeader("Content-Type", "application/json", "X-Amzn-RequestId", "amzn-7"),
		body:   `{"error":{"code":"INVALID_API_KEY","message":"Invalid or expired API key"}}`,
		want:   apiauth.Error{StatusCode: 401, Code: "INVALID_API_KEY", Message: "Invalid or expired API key", RequestID: "amzn-7"},
		is:     []error{apiauth.ErrUnauthorized, apiauth.ErrInvalidAPIKey},
	},
	{
		name: "audimodal INSUFFICIENT_PERMISSIONS", status: 403,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"Insufficient permissions for this operation","required_role":"admin"}}`,
		want: apiauth.Error{StatusCode: 403, Code: "INSUFFICIENT_PERMISSIONS",
			Message: "Insufficient permissions for this operation", RequiredRole: "admin"},
		is: []error{apiauth.ErrForbidden, apiauth.ErrInsufficientPermissions},
	},
	{
		name: "audimodal TOKEN_EXPIRED", status: 401,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T12:00:00Z"}}`,
		want: apiauth.Error{StatusCode: 401, Code: "TOKEN_EXPIRED", Message: "Access token has expired",
			ExpiresAt: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)},
		is: []error{apiauth.ErrUnauthorized, apiauth.ErrTokenExpired},
	},
	{
		name: "audimodal RATE_LIMIT_EXCEEDED", status: 429,
		header: errHeader("Content-Type", "application/json", "X-RateLimit-Limit", "1000",
			"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1640995200"),
		body: `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`,
		want: apiauth.Error{StatusCode: 429, Code: "RATE_LIMIT_EXCEEDED", Message: "API rate limit exceeded",
			RetryAfter: 60 * time.Second},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true, reset: time.Unix(1640995200, 0), rlRetry: 60 * time.Second,
	},
	// Rate limits beyond the seeds.
	{
		name: "429 status only", status: 429,
		want:        apiauth.Error{StatusCode: 429},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true,
	},
	{
		name: "429 Retry-After seconds wins over body", status: 429,
		header:      errHeader("Retry-After", "7"),
		body:        `{"error":{"code":"RATE_LIMIT_EXCEEDED","retry_after":60}}`,
		want:        apiauth.Error{StatusCode: 429, Code: "RATE_LIMIT_EXCEEDED", RetryAfter: 7 * time.Second},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true, reset: errSynctestStart.Add(7 * time.Second), rlRetry: 7 * time.Second,
	},
	{
		name: "429 Retry-After HTTP-date from Date header", status: 429,
		header:      errHeader("Date", "Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT"),
		want:        apiauth.Error{StatusCode: 429, RetryAfter: 30 * time.Second},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true, reset: errSynctestStart.Add(30 * time.Second), rlRetry: 30 * time.Second,
	},
	{
		name: "429 invalid Retry-After falls back to body", status: 429,
		header:      errHeader("Retry-After", "soon"),
		body:        `{"retry_after":"2.5"}`,
		want:        apiauth.Error{StatusCode: 429, RetryAfter: 2500 * time.Millisecond},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true, reset: errSynctestStart.Add(2500 * time.Millisecond), rlRetry: 2500 * time.Millisecond,
	},
	{
		name: "429 X-RateLimit-Reset as delta seconds", status: 429,
		header:      errHeader("X-RateLimit-Reset", "30"),
		want:        apiauth.Error{StatusCode: 429},
		is:          []error{apiauth.ErrRateLimited},
		rateLimited: true, reset: errSynctestStart.Add(30 * time.Second), rlRetry: 30 * time.Second,
	},
	{
		name: "403 RATE_LIMIT_EXCEEDED code matches by code", status: 403,
		body: `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}`,
		want: apiauth.Error{StatusCode: 403, Code: "RATE_LIMIT_EXCEEDED", Message: "slow down"},
		is:   []error{apiauth.ErrForbidden, apiauth.ErrRateLimited},
	},
	// Codes imply kinds whatever the status.
	{
		name: "400 lower-case token_expired code", status: 400,
		body: `{"error":{"code":"token_expired","expires_at":1704110400}}`,
		want: apiauth.Error{StatusCode: 400, Code: "token_expired", ExpiresAt: time.Unix(1704110400, 0)},
		is:   []error{apiauth.ErrUnauthorized, apiauth.ErrTokenExpired},
	},
	// Servers and proxies.
	{
		name: "500 empty body", status: 500,
		header: errHeader("Content-Type", "application/json"),
		want:   apiauth.Error{StatusCode: 500},
		is:     []error{apiauth.ErrServer},
	},
	{
		name: "502 HTML page from a proxy", status: 502,
		header: errHeader("Content-Type", "text/html", "Cf-Ray", "8a1b2c3d4e5f-AMS"),
		body:   "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>\n",
		want:   apiauth.Error{StatusCode: 502, RequestID: "8a1b2c3d4e5f-AMS"},
		is:     []error{apiauth.ErrServer},
	},
	{
		name: "503 Retry-After", status: 503,
		header: errHeader("Retry-After", "120"),
		body:   `{"message":"maintenance"}`,
		want:   apiauth.Error{StatusCode: 503, Message: "maintenance", RetryAfter: 120 * time.Second},
		is:     []error{apiauth.ErrServer},
	},
	{
		name: "500 huge body over 1 MiB", status: 500,
		body: errHugeBody,
		want: apiauth.Error{StatusCode: 500},
		is:   []error{apiauth.ErrServer},
	},
	// Malformed and other shapes.
	{
		name: "401 truncated JSON", status: 401,
		header: errHeader("Content-Type", "application/json"),
		body:   `{"error":{"code":"INVALID_API_KEY","mess`,
		want:   apiauth.Error{StatusCode: 401},
		is:     []error{apiauth.ErrUnauthorized},
	},
	{
		name: "400 JSON array body", status: 400,
		body: `[{"code":"UNAUTHORIZED"}]`,
		want: apiauth.Error{StatusCode: 400},
	},
	{
		name: "400 JSON with wrong content type", status: 400,
		header: errHeader("Content-Type", "text/html"),
		body:   "\ufeff {\"error\":{\"code\":\"BAD_INPUT\",\"message\":\"name too long\"}}",
		want:   apiauth.Error{StatusCode: 400, Code: "BAD_INPUT", Message: "name too long"},
	},
	{
		name: "400 error as a string", status: 400,
		body: `{"error":"something went wrong"}`,
		want: apiauth.Error{StatusCode: 400, Message: "something went wrong"},
	},
	{
		name: "400 OAuth2 error and description", status: 400,
		body: `{"error":"invalid_grant","error_description":"refresh token already used"}`,
		want: apiauth.Error{StatusCode: 400, Code: "invalid_grant", Message: "refresh token already used"},
	},
	{
		name: "409 top-level message and numeric code", status: 409,
		header: errHeader("Request-Id", "rid-9"),
		body:   `{"message":"already exists","code":409}`,
		want:   apiauth.Error{StatusCode: 409, Code: "409", Message: "already exists", RequestID: "rid-9"},
	},
	{
		name: "400 wrong member types are ignored", status: 400,
		body: `{"error":{"code":{"x":1},"message":["a"],"retry_after":-5,"expires_at":"tomorrow","required_role":7}}`,
		want: apiauth.Error{StatusCode: 400, RequiredRole: "7"},
	},
}

// checkErrCase asserts everything CheckResponse must hold for one row.
func checkErrCase(t *testing.T, tc errCase, resp *http.Response, err error) {
	t.Helper()
	var apiErr *apiauth.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("CheckResponse = %T %v; want an *apiauth.Error inside", err, err)
	}
	for _, k := range errKinds {
		want := false
		for _, w := range tc.is {
			want = want || w == k.err
		}
		if got := errors.Is(err, k.err); got != want {
			t.Errorf("errors.Is(err, %s) = %v, want %v", k.name, got, want)
		}
	}

	var rl *apiauth.RateLimitError
	if got := errors.As(err, &rl); got != tc.rateLimited {
		t.Fatalf("errors.As(err, *RateLimitError) = %v, want %v", got, tc.rateLimited)
	}
	if tc.rateLimited {
		var trl *transport.RateLimitError
		if !errors.As(err, &trl) || trl != rl {
			t.Errorf("errors.As(err, *transport.RateLimitError) did not find the same error")
		}
		if rl.Err != apiErr {
			t.Errorf("RateLimitError.Err = %v, want the decoded *Error", rl.Err)
		}
		if !rl.Reset.Equal(tc.reset) {
			t.Errorf("RateLimitError.Reset = %v, want %v", rl.Reset, tc.reset)
		}
		if rl.RetryAfter != tc.rlRetry {
			t.Errorf("RateLimitError.RetryAfter = %v, want %v", rl.RetryAfter, tc.rlRetry)
		}
	}

	got := *apiErr
	want := tc.want
	if want.Method == "" {
		want.Method = http.MethodGet
	}
	if want.Path == "" {
		want.Path = errTestPath
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	if strings.HasPrefix(strings.TrimSpace(tc.body), `{"detail":[`) != (got.RawDetail != nil) {
		t.Errorf("RawDetail = %s, want it set only for a list detail", got.RawDetail)
	}
	wantBody := tc.body
	if len(wantBody) > apiauth.DefaultMaxErrorBody {
		wantBody = wantBody[:apiauth.DefaultMaxErrorBody]
	}
	if string(got.Body) != wantBody {
		t.Errorf("Body = %.80q (%d bytes), want %.80q (%d bytes)", got.Body, len(got.Body), wantBody, len(wantBody))
	}
	got.ExpiresAt, want.ExpiresAt = time.Time{}, time.Time{}
	got.RawDetail, got.Body = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
	}

	// The caller can still read the body CheckResponse consumed.
	rest, rerr := io.ReadAll(resp.Body)
	if rerr != nil || string(rest) != wantBody {
		t.Errorf("resp.Body after CheckResponse = %.80q, %v; want the %d bytes read", rest, rerr, len(wantBody))
	}

	msg := err.Error()
	if !strings.HasPrefix(msg, "apiauth: ") {
		t.Errorf("Error() = %q, want the apiauth: prefix", msg)
	}
	text := apiErr.Error()
	for _, part := range []string{fmt.Sprint(tc.status), "GET " + errTestPath, want.Code, want.RequestID} {
		if !strings.Contains(text, part) {
			t.Errorf("Error() = %q, want it to contain %q", text, part)
		}
	}
	if m := want.Message + want.Detail; m != "" && !strings.Contains(text, errFirstN(m, 100)) {
		t.Errorf("Error() = %q, want it to contain the message or detail", text)
	}
	assertErrorHidesSecrets(t, err, "querysecret", "api_key", "hunter2", "HEADERSECRET", "pw-secret", "<html")
}

func errFirstN(s string, n int) string { return s[:min(n, len(s))] }

// assertErrorHidesSecrets checks every fmt form of err for each secret.
func assertErrorHidesSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(verb, err)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("fmt %s of the error contains %q: %s", verb, s, errFirstN(out, 400))
			}
		}
	}
}

func TestCheckResponseTable(t *testing.T) {
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mt := httpmock.NewMockTransport()
				mt.RegisterResponder(http.MethodGet, `=~^https://[^/]*api\.example\.test/v1/things/42`,
					httpmock.NewStringResponder(tc.status, tc.body).HeaderSet(tc.header))
				client := &http.Client{Transport: mt}

				req, err := http.NewRequest(http.MethodGet, errTestURL, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", errTestBearer)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				checkErrCase(t, tc, resp, apiauth.CheckResponse(resp))
			})
		})
	}
}

// TestCheckResponseOverTheWire runs rows through a real server and client,
// where headers are canonicalized and bodies are chunked or sized by net/http.
func TestCheckResponseOverTheWire(t *testing.T) {
	mux := http.NewServeMux()
	for i, tc := range errCases {
		mux.HandleFunc(fmt.Sprintf("/case/%d/v1/things/42", i), func(w http.ResponseWriter, r *http.Request) {
			for k, v := range tc.header {
				w.Header()[k] = v
			}
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for i, tc := range errCases {
		if tc.rateLimited && !tc.reset.IsZero() && tc.reset.Before(time.Unix(1e9, 0)) {
			continue // resets relative to the synctest clock are checked in the table test
		}
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/case/%d/v1/things/42?api_key=querysecret", srv.URL, i), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", errTestBearer)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			tc.want.Path = fmt.Sprintf("/case/%d/v1/things/42", i)
			err = apiauth.CheckResponse(resp)
			var apiErr *apiauth.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("CheckResponse = %v, want an *apiauth.Error", err)
			}
			if apiErr.Path != tc.want.Path || apiErr.Code != tc.want.Code || apiErr.Message != tc.want.Message ||
				apiErr.Detail != tc.want.Detail || apiErr.RequestID != tc.want.RequestID || apiErr.RetryAfter != tc.want.RetryAfter {
				t.Errorf("decoded %+v\nwant    %+v", apiErr, &tc.want)
			}
			for _, k := range tc.is {
				if !errors.Is(err, k) {
					t.Errorf("errors.Is(err, %v) = false", k)
				}
			}
		})
	}
}

func TestCheckResponseSuccessUntouched(t *testing.T) {
	for _, status := range []int{100, 200, 201, 204, 301, 304, 399} {
		body := io.NopCloser(strings.NewReader("ok"))
		resp := &http.Response{StatusCode: status, Body: body, Header: http.Header{}}
		if err := apiauth.CheckResponse(resp); err != nil {
			t.Errorf("CheckResponse(%d) = %v, want nil", status, err)
		}
		if resp.Body != body {
			t.Errorf("CheckResponse(%d) replaced the body of a success", status)
		}
	}
}

func TestCheckResponseNil(t *testing.T) {
	err := apiauth.CheckResponse(nil)
	if err == nil || !strings.HasPrefix(err.Error(), "apiauth: ") {
		t.Fatalf("CheckResponse(nil) = %v, want an apiauth: error", err)
	}
	for _, k := range errKinds {
		if errors.Is(err, k.err) {
			t.Errorf("CheckResponse(nil) matches %s", k.name)
		}
	}
}

func TestCheckResponseClosesAndReplacesBody(t *testing.T) {
	const payload = `{"detail":"Not authenticated"}`
	body := &testrt.TrackedBody{R: strings.NewReader(payload)}
	resp := &http.Response{StatusCode: 401, Body: body, Header: http.Header{}, ContentLength: int64(len(payload))}
	if err := apiauth.CheckResponse(resp); !errors.Is(err, apiauth.ErrUnauthorized) {
		t.Fatalf("CheckResponse = %v, want ErrUnauthorized", err)
	}
	if !body.Closed || body.N != int64(len(payload)) {
		t.Errorf("original body closed=%v read=%d, want closed after %d bytes", body.Closed, body.N, len(payload))
	}
	for range 2 { // the replacement is a plain reader: reading twice gives the bytes once
		got, _ := io.ReadAll(resp.Body)
		if len(got) != 0 && string(got) != payload {
			t.Errorf("resp.Body = %q, want %q", got, payload)
		}
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("closing the replacement body: %v", err)
	}

	// A nil body (a hand-built response) is tolerated and replaced by http.NoBody.
	resp = &http.Response{StatusCode: 404, Header: http.Header{}}
	if err := apiauth.CheckResponse(resp); !errors.Is(err, apiauth.ErrNotFound) || resp.Body != http.NoBody {
		t.Errorf("nil body: CheckResponse = %v, Body = %v", err, resp.Body)
	}
}

// failingErrBody fails after some bytes, like a connection reset mid-body.
type failingErrBody struct{ r io.Reader }

func (b failingErrBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}
func (failingErrBody) Close() error { return nil }

func TestCheckResponseReadFailureKeepsStatus(t *testing.T) {
	resp := &http.Response{StatusCode: 403, Header: http.Header{}, Body: failingErrBody{strings.NewReader(`{"error":{"code":"FOR`)}}
	err := apiauth.CheckResponse(resp)
	var apiErr *apiauth.Error
	if !errors.As(err, &apiErr) || !errors.Is(err, apiauth.ErrForbidden) {
		t.Fatalf("CheckResponse = %v, want a 403 *Error", err)
	}
	if string(apiErr.Body) != `{"error":{"code":"FOR` {
		t.Errorf("Body = %q, want the bytes read before the failure", apiErr.Body)
	}
}

func TestErrorNeverPrintsSecrets(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
	body := `{"error":{"code":"INVALID_API_KEY","message":"key sk_live_ECHOEDKEY123 is not valid; got Bearer ` + jwt +
		`","required_role":"tk_ROLESECRET99"},"echo":{"password":"pw-secret","authorization":"Bearer opaque-token-0123456789"}}`
	req := httptest.NewRequest(http.MethodDelete, "https://alice:hunter2@api.example.test/v1/keys/sk_test_PATHSECRET42/rotate?token=querysecret#frag", nil)
	req.Header.Set("Authorization", "Bearer sk_live_HEADERSECRET0123456789")
	resp := &http.Response{StatusCode: 429, Request: req, Header: errHeader("X-Request-Id", "req-1"),
		Body: io.NopCloser(strings.NewReader(body))}

	err := apiauth.CheckResponse(resp)
	var apiErr *apiauth.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("CheckResponse = %v", err)
	}
	secrets := []string{"ECHOEDKEY123", jwt, "eyJ", "ROLESECRET", "pw-secret", "opaque-token", "PATHSECRET",
		"querysecret", "frag", "hunter2", "alice", "HEADERSECRET"}
	assertErrorHidesSecrets(t, apiErr, secrets...)
	assertErrorHidesSecrets(t, err, secrets...)                                   // the *RateLimitError around it
	assertErrorHidesSecrets(t, fmt.Errorf("calling rotate: %w", err), secrets...) // wrapped further

	if got, want := apiErr.Path, "/v1/keys/REDACTED/rotate"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if !strings.Contains(apiErr.Error(), "DELETE /v1/keys/REDACTED/rotate") ||
		!strings.Contains(apiErr.Error(), "key [REDACTED] is not valid; got Bearer [REDACTED]") {
		t.Errorf("Error() = %q, want the masked message, method and path", apiErr.Error())
	}
	// The fields keep what the server sent, for the caller's own use.
	if !strings.Contains(apiErr.Message, "sk_live_ECHOEDKEY123") || !bytes.Contains(apiErr.Body, []byte("pw-secret")) {
		t.Errorf("fields were altered: Message=%q", apiErr.Message)
	}
	// A dereferenced value prints safely too.
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(verb, *apiErr); strings.Contains(out, "pw-secret") || strings.Contains(out, "ECHOEDKEY") {
			t.Errorf("fmt %s of an Error value leaks: %s", verb, out)
		}
	}
}

func TestErrorProseAfterBearerIsKept(t *testing.T) {
	e := &apiauth.Error{StatusCode: 401, Message: "expected a Bearer token in the Authorization header"}
	if got := e.Error(); !strings.Contains(got, "Bearer token in the Authorization header") {
		t.Errorf("Error() = %q, want prose after Bearer kept", got)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &apiauth.Error{
		StatusCode: 403, Code: "INSUFFICIENT_PERMISSIONS", Message: "Insufficient permissions for this operation",
		RequiredRole: "admin", RequestID: "req_1", Method: "POST", Path: "/v1/users",
		ExpiresAt: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), RetryAfter: time.Minute,
		RawDetail: []byte(`[1]`), Body: []byte(`{"error":{"code":"INSUFFICIENT_PERMISSIONS"}} BODYMARK`),
	}
	const wantErr = `apiauth: 403 Forbidden: INSUFFICIENT_PERMISSIONS: Insufficient permissions for this operation (required role "admin"; POST /v1/users; request id req_1)`
	if got := e.Error(); got != wantErr {
		t.Errorf("Error()\n got %s\nwant %s", got, wantErr)
	}
	if got := fmt.Sprintf("%v|%s", e, e); got != wantErr+"|"+wantErr {
		t.Errorf("%%v|%%s = %s", got)
	}
	if got := fmt.Sprintf("%q", e); got != fmt.Sprintf("%q", wantErr) {
		t.Errorf("%%q = %s", got)
	}
	plus := fmt.Sprintf("%+v", e)
	for _, part := range []string{`StatusCode:403`, `Code:"INSUFFICIENT_PERMISSIONS"`, `RequiredRole:"admin"`,
		`ExpiresAt:2024-01-01T12:00:00Z`, `RetryAfter:1m0s`, `RequestID:"req_1"`, `Path:"/v1/users"`,
		`RawDetail:<3 bytes>`, fmt.Sprintf("Body:<%d bytes>", len(e.Body))} {
		if !strings.Contains(plus, part) {
			t.Errorf("%%+v = %s\nwant it to contain %s", plus, part)
		}
	}
	gs := fmt.Sprintf("%#v", e)
	for _, part := range []string{`&apiauth.Error{StatusCode:403, `, `time.Date(2024, time.January, 1, 12, 0, 0, 0, time.UTC)`,
		`RetryAfter:60000000000`, fmt.Sprintf("Body:nil /* %d bytes */", len(e.Body))} {
		if !strings.Contains(gs, part) {
			t.Errorf("%%#v = %s\nwant it to contain %s", gs, part)
		}
	}
	for _, out := range []string{plus, gs} {
		if strings.Contains(out, "BODYMARK") {
			t.Errorf("fmt printed the body: %s", out)
		}
	}
	if got := fmt.Sprintf("%d", e); !strings.HasPrefix(got, "%!d(") {
		t.Errorf("%%d = %s, want a bad-verb marker", got)
	}

	var nilErr *apiauth.Error
	if got := fmt.Sprint(nilErr); got != "<nil>" {
		t.Errorf("fmt of a nil *Error = %q", got)
	}
	if got := nilErr.Error(); !strings.HasPrefix(got, "apiauth: ") {
		t.Errorf("nil Error() = %q", got)
	}
	if got := (&apiauth.Error{StatusCode: 599}).Error(); got != "apiauth: 599" {
		t.Errorf("unknown status Error() = %q", got)
	}
	long := &apiauth.Error{StatusCode: 500, Message: strings.Repeat("é", 2000), Detail: "line1\nline2\ttab"}
	if got := long.Error(); len(got) > 1200 || strings.ContainsAny(got, "\n\t") || !strings.Contains(got, "line1 line2 tab") {
		t.Errorf("long Error() = %d bytes %q, want bounded with control characters replaced", len(got), errFirstN(got, 80))
	}
}

func TestErrorDoesNotMutate(t *testing.T) {
	e := &apiauth.Error{StatusCode: 401, Code: "TOKEN_EXPIRED", Message: "Bearer sk_live_ABCDEFGHIJ expired\n",
		Method: "GET", Path: "/v1", Body: []byte("x"), RawDetail: []byte(`{}`)}
	before := *e
	before.Body = bytes.Clone(e.Body)
	first := e.Error()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := e.Error(); got != first {
				t.Errorf("Error() changed: %q vs %q", got, first)
			}
			_ = fmt.Sprintf("%v %+v %#v", e, e, e)
			_ = errors.Is(e, apiauth.ErrTokenExpired)
		})
	}
	wg.Wait()
	if !reflect.DeepEqual(*e, before) {
		t.Errorf("formatting changed the error:\n%#v\n%#v", *e, before)
	}
}

func TestErrorIsByKind(t *testing.T) {
	tests := []struct {
		e    apiauth.Error
		is   []error
		name string
	}{
		{apiauth.Error{StatusCode: 401}, []error{apiauth.ErrUnauthorized}, "401"},
		{apiauth.Error{StatusCode: 401, Code: "TOKEN_EXPIRED"}, []error{apiauth.ErrUnauthorized, apiauth.ErrTokenExpired}, "401 TOKEN_EXPIRED"},
		{apiauth.Error{StatusCode: 400, Code: "INVALID_API_KEY"}, []error{apiauth.ErrUnauthorized, apiauth.ErrInvalidAPIKey}, "INVALID_API_KEY"},
		{apiauth.Error{StatusCode: 400, Code: "UNAUTHORIZED"}, []error{apiauth.ErrUnauthorized}, "UNAUTHORIZED code"},
		{apiauth.Error{StatusCode: 400, Code: "Forbidden"}, []error{apiauth.ErrForbidden}, "FORBIDDEN code any case"},
		{apiauth.Error{StatusCode: 403}, []error{apiauth.ErrForbidden}, "403"},
		{apiauth.Error{StatusCode: 400, Code: "INSUFFICIENT_PERMISSIONS"}, []error{apiauth.ErrForbidden, apiauth.ErrInsufficientPermissions}, "INSUFFICIENT_PERMISSIONS"},
		{apiauth.Error{StatusCode: 404}, []error{apiauth.ErrNotFound}, "404"},
		{apiauth.Error{StatusCode: 429}, []error{apiauth.ErrRateLimited}, "429"},
		{apiauth.Error{StatusCode: 503, Code: "RATE_LIMIT_EXCEEDED"}, []error{apiauth.ErrRateLimited, apiauth.ErrServer}, "503 RATE_LIMIT_EXCEEDED"},
		{apiauth.Error{StatusCode: 500}, []error{apiauth.ErrServer}, "500"},
		{apiauth.Error{StatusCode: 599}, []error{apiauth.ErrServer}, "599"},
		{apiauth.Error{StatusCode: 600}, nil, "600"},
		{apiauth.Error{StatusCode: 400, Code: "NOT_A_KNOWN_CODE"}, nil, "400 unknown code"},
		{apiauth.Error{}, nil, "zero"},
	}
	for _, tc := range tests {
		for _, k := range errKinds {
			want := false
			for _, w := range tc.is {
				want = want || w == k.err
			}
			if got := errors.Is(&tc.e, k.err); got != want {
				t.Errorf("%s: errors.Is(%s) = %v, want %v", tc.name, k.name, got, want)
			}
		}
		// Is matches kinds, not other errors with equal fields.
		same := tc.e
		if errors.Is(&tc.e, &same) || errors.Is(&tc.e, io.EOF) {
			t.Errorf("%s: matched a non-kind target", tc.name)
		}
	}
	// Through wrapping.
	wrapped := fmt.Errorf("listing files: %w", &apiauth.Error{StatusCode: 401, Code: "TOKEN_EXPIRED"})
	if !errors.Is(wrapped, apiauth.ErrTokenExpired) {
		t.Error("wrapped TOKEN_EXPIRED does not match ErrTokenExpired")
	}
}

func TestErrorSentinels(t *testing.T) {
	pairs := map[error]*errkind.Kind{
		apiauth.ErrUnauthorized: errkind.Unauthorized, apiauth.ErrForbidden: errkind.Forbidden,
		apiauth.ErrNotFound: errkind.NotFound, apiauth.ErrRateLimited: errkind.RateLimited,
		apiauth.ErrTokenExpired: errkind.TokenExpired, apiauth.ErrInvalidAPIKey: errkind.InvalidAPIKey,
		apiauth.ErrInsufficientPermissions: errkind.InsufficientPermissions, apiauth.ErrServer: errkind.Server,
		apiauth.ErrInvalidCredential: errkind.InvalidCredential, apiauth.ErrInsecureTransport: errkind.InsecureTransport,
		apiauth.ErrTokenRefresh: errkind.TokenRefresh, apiauth.ErrClosed: errkind.Closed,
	}
	if len(pairs) != len(errKinds) {
		t.Fatalf("%d distinct sentinels, want %d", len(pairs), len(errKinds))
	}
	for exported, kind := range pairs {
		if exported != error(kind) {
			t.Errorf("%v is not errkind's value", exported)
		}
		if !strings.HasPrefix(exported.Error(), "apiauth: ") {
			t.Errorf("sentinel message %q lacks the apiauth: prefix", exported.Error())
		}
	}
	// A rate-limit decision taken without a response matches ErrRateLimited too.
	var err error = &apiauth.RateLimitError{RetryAfter: time.Second}
	if !errors.Is(err, apiauth.ErrRateLimited) {
		t.Error("a bare *RateLimitError does not match ErrRateLimited")
	}
}

// TestErrorDocumentedDefaults keeps the documentation's numbers equal to the code's.
func TestErrorDocumentedDefaults(t *testing.T) {
	if apiauth.DefaultMaxErrorBody != 1<<20 {
		t.Errorf("DefaultMaxErrorBody = %d, documented as 1 MiB", apiauth.DefaultMaxErrorBody)
	}
	// The drain bound documented on CheckResponse (64 KiB) is checked by
	// TestCheckResponseEndlessBody.
}

func TestRequestIDHeaders(t *testing.T) {
	for _, h := range []string{"X-Request-Id", "X-Request-ID", "x-request-id", "Request-Id", "X-Amzn-RequestId",
		"X-Amz-Request-Id", "X-Correlation-Id", "CF-RAY"} {
		resp := &http.Response{StatusCode: 500, Header: errHeader(h, "  id-42  "), Body: http.NoBody}
		var apiErr *apiauth.Error
		if err := apiauth.CheckResponse(resp); !errors.As(err, &apiErr) || apiErr.RequestID != "id-42" {
			t.Errorf("%s: RequestID = %q, want id-42", h, apiErr.RequestID)
		}
	}
	// Precedence: X-Request-Id first.
	resp := &http.Response{StatusCode: 500, Header: errHeader("Cf-Ray", "ray", "X-Request-Id", "primary"), Body: http.NoBody}
	var apiErr *apiauth.Error
	if errors.As(apiauth.CheckResponse(resp), &apiErr); apiErr.RequestID != "primary" {
		t.Errorf("RequestID = %q, want X-Request-Id to win", apiErr.RequestID)
	}
	// An absurd id is bounded.
	resp = &http.Response{StatusCode: 500, Header: errHeader("X-Request-Id", strings.Repeat("z", 5000)), Body: http.NoBody}
	if errors.As(apiauth.CheckResponse(resp), &apiErr); len(apiErr.RequestID) > 128 {
		t.Errorf("RequestID is %d bytes, want at most 128", len(apiErr.RequestID))
	}
}

func TestCheckResponseRateLimitResetInThePast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts in 2000, before any epoch reset (> 1e9):
		// move it to one hour after AudiModal's documented reset.
		reset := time.Unix(1640995200, 0)
		time.Sleep(time.Until(reset.Add(time.Hour)))

		resp := &http.Response{StatusCode: 429, Body: http.NoBody, Header: errHeader("X-RateLimit-Reset", "1640995200")}
		var rl *apiauth.RateLimitError
		if !errors.As(apiauth.CheckResponse(resp), &rl) {
			t.Fatal("want a *RateLimitError")
		}
		if !rl.Reset.Equal(reset) || rl.RetryAfter != 0 {
			t.Errorf("Reset=%v RetryAfter=%v, want the past reset and no wait", rl.Reset, rl.RetryAfter)
		}
		// A future epoch reset without Retry-After gives the wait until it.
		future := time.Now().Add(90 * time.Second).Unix()
		resp = &http.Response{StatusCode: 429, Body: http.NoBody, Header: errHeader("X-RateLimit-Reset", fmt.Sprint(future))}
		if !errors.As(apiauth.CheckResponse(resp), &rl) || rl.RetryAfter != 90*time.Second || !rl.Reset.Equal(time.Unix(future, 0)) {
			t.Errorf("Reset=%v RetryAfter=%v, want 1m30s until the epoch reset", rl.Reset, rl.RetryAfter)
		}
	})
}

// CheckResponse and Pace read a 429's reset through one parser: the same
// X-RateLimit-Reset (or RateLimit field) gives the same instant to the
// *RateLimitError and to transport.ParseRateLimit, which Pace uses. In 0.1
// a reset of 950000000 was 2057 for one and 2000 for the other.
func TestOneParserForTheReset(t *testing.T) {
	now := time.Now()
	for _, h := range []http.Header{
		{"X-Ratelimit-Reset": {"950000000"}},
		{"X-Ratelimit-Reset": {strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)}},
		{"X-Ratelimit-Reset": {strconv.FormatInt(now.Add(30*time.Second).UnixMilli(), 10)}},
		{"X-Ratelimit-Reset": {"30"}},
		{"X-Ratelimit-Reset": {now.Add(time.Minute).UTC().Format(http.TimeFormat)}},
		{"X-Ratelimit-Reset": {strings.Replace(now.Add(time.Minute).UTC().Format(http.TimeFormat), "GMT", "UTC", 1)}},
		{"Ratelimit": {`"default";r=0;t=42`}, "Ratelimit-Policy": {`"default";q=100;w=60`}},
	} {
		h := h.Clone()
		h.Set("X-Ratelimit-Remaining", "0")
		resp := &http.Response{StatusCode: 429, Header: h, Body: io.NopCloser(strings.NewReader(`{}`))}
		var rle *apiauth.RateLimitError
		if !errors.As(apiauth.CheckResponse(resp), &rle) {
			t.Fatalf("%v: no *RateLimitError", h)
		}
		rl, ok := transport.ParseRateLimit(h, time.Now(), transport.ParseOptions{})
		if !ok || rl.Reset.IsZero() {
			t.Fatalf("%v: Pace's parser found no reset", h)
		}
		if d := rle.Reset.Sub(rl.Reset); d > time.Second || d < -time.Second {
			t.Errorf("%v: CheckResponse says %v, Pace says %v", h, rle.Reset, rl.Reset)
		}
	}
}
