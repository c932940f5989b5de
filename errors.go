package apiauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apiauth/apiauth/internal/drain"
	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/sentsecret"
	"github.com/apiauth/apiauth/transport"
)

// Sentinel errors, matched with [errors.Is] against the errors this package
// and package transport return. An [*Error] matches them by kind, from its
// status code and its documented error code (see [Error.Is]); compare with
// errors.Is, never with ==, and do not match on message text.
var (
	// ErrUnauthorized matches a 401 answer, and the codes UNAUTHORIZED,
	// INVALID_API_KEY and TOKEN_EXPIRED whatever the status.
	ErrUnauthorized error = errkind.Unauthorized

	// ErrForbidden matches a 403 answer, and the codes FORBIDDEN and
	// INSUFFICIENT_PERMISSIONS whatever the status.
	ErrForbidden error = errkind.Forbidden

	// ErrNotFound matches a 404 answer.
	ErrNotFound error = errkind.NotFound

	// ErrRateLimited matches a 429 answer, the code RATE_LIMIT_EXCEEDED, and
	// every [*RateLimitError], including those the rate-limit layer returns
	// without sending the request.
	ErrRateLimited error = errkind.RateLimited

	// ErrTokenExpired matches the code TOKEN_EXPIRED (AudiModal sends it
	// with a 401 and the token's expires_at).
	ErrTokenExpired error = errkind.TokenExpired

	// ErrInvalidAPIKey matches the code INVALID_API_KEY.
	ErrInvalidAPIKey error = errkind.InvalidAPIKey

	// ErrInsufficientPermissions matches the code INSUFFICIENT_PERMISSIONS;
	// the role the server asked for is in [Error.RequiredRole].
	ErrInsufficientPermissions error = errkind.InsufficientPermissions

	// ErrServer matches any 5xx answer.
	ErrServer error = errkind.Server

	// ErrInvalidCredential reports a credential that is malformed or empty
	// before it is ever sent, such as an API key with an unknown prefix.
	ErrInvalidCredential error = errkind.InvalidCredential

	// ErrInvalidConfig reports a configuration that cannot work, found before
	// anything is sent: a base URL or endpoint URL that is not absolute
	// http(s), or a request path that does not parse.
	ErrInvalidConfig error = errkind.InvalidConfig

	// ErrInsecureTransport reports a credential-bearing request refused
	// because it would travel over plain HTTP to a host that is not loopback
	// and the caller did not opt in.
	ErrInsecureTransport error = errkind.InsecureTransport

	// ErrTokenRefresh reports that a token could not be obtained or renewed;
	// the error that caused it is wrapped alongside.
	ErrTokenRefresh error = errkind.TokenRefresh

	// ErrClosed reports a call on a token cache, client or other value after
	// its Close method was called.
	ErrClosed error = errkind.Closed
)

// RateLimitError is the error [CheckResponse] returns for a 429 answer, and
// the error the rate-limit layer of package transport returns when a request
// would have to wait past the caller's maximum wait. It is the same type as
// [transport.RateLimitError]. It matches [ErrRateLimited] under [errors.Is];
// when it came from a server's answer, its Err field holds the decoded
// [*Error], so [errors.As] with an *Error target finds it too.
type RateLimitError = transport.RateLimitError

// DefaultMaxErrorBody is the largest error body, in bytes, that
// [CheckResponse] reads: 1 MiB. The rest is drained up to a small bound (64
// KiB, so that the connection may be reused) and discarded.
const DefaultMaxErrorBody = 1 << 20

// maxErrorDrain is how many bytes past the read limit CheckResponse discards
// before it closes the body, so that a slightly-too-long body does not cost
// the connection while an endless one costs bounded time.
const maxErrorDrain = 64 << 10

// maxServerWait caps every server-supplied wait, so that a nonsense value
// cannot overflow a time.Duration or a time.Time addition.
const maxServerWait = 100 * 365 * 24 * time.Hour

// Display bounds for the strings Error prints; the fields keep the full value.
const (
	maxShownText  = 512
	maxShownShort = 128
	maxShownPath  = 256
)

// requestIDHeaders are the response headers CheckResponse reads the request
// id from, first non-empty wins. Keep in sync with the Error.RequestID doc.
var requestIDHeaders = [...]string{
	"X-Request-Id", // also matches X-Request-ID: header names are case-insensitive
	"Request-Id",
	"X-Amzn-Requestid",
	"X-Amz-Request-Id",
	"X-Correlation-Id",
	"Cf-Ray",
}

// requestID returns the first non-empty request id header of h, cut to a
// printable length.
func requestID(h http.Header) string {
	for _, name := range requestIDHeaders {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			return truncateShown(v, maxShownShort)
		}
	}
	return ""
}

// Error is an API error: a response with status 400 or above, decoded by
// [CheckResponse]. It understands the body shapes of the API families this
// package serves: {"detail": "..."} and FastAPI's 422 list of field errors
// (Artos), {"error": {"code", "message", "required_role", "expires_at",
// "retry_after"}} (Voltasis, AudiModal), a bare status with any or no body
// (Artanis), and, tolerantly, {"error": "..."}, OAuth2's {"error",
// "error_description"} and {"message": "..."}. A body that is not JSON (a
// proxy's HTML page, an empty or truncated body) leaves only the status and
// the headers' information.
//
// Match an Error by kind with [errors.Is] and the Err* sentinels, and read its
// fields with [errors.As]; its message is for people and is not a contract.
//
// Error, its %v, %+v and %#v forms never print Body or RawDetail (a careless
// server may echo a secret in them), the query string, the userinfo or any
// request header, and they mask strings that look like API keys or JWTs.
// The fields themselves hold what the server sent, except that every exact
// secret the request carried (its credential header values, the user id,
// password or refresh token of a token request) is replaced by
// "[REDACTED]" in all of them, Body and RawDetail included, and in the body
// left on the response: a server that echoes the credential back cannot put
// it in an error. Secrets shorter than 4 bytes are not scrubbed.
//
// The zero value is a valid, empty error. An Error is not modified by any of
// its methods, so it is safe for concurrent use once built.
type Error struct {
	// StatusCode is the response's HTTP status code.
	StatusCode int

	// Code is the machine-readable error code from the body, such as
	// "TOKEN_EXPIRED" or "INVALID_API_KEY"; empty when the body had none.
	Code string

	// Message is the human-readable message from the body; empty when the
	// body had none.
	Message string

	// Detail is the body's "detail" member (Artos, FastAPI). A string detail
	// is kept as is; FastAPI's 422 list of field errors is rendered as
	// "body.user_id: field required; ..." from each entry's loc and msg only,
	// never its input (which may echo a submitted password).
	Detail string

	// RawDetail is the "detail" member as the server sent it, when it was
	// not a plain string; nil otherwise.
	RawDetail json.RawMessage

	// RequiredRole is the role the server said the operation needs
	// (AudiModal's required_role with INSUFFICIENT_PERMISSIONS).
	RequiredRole string

	// ExpiresAt is when the rejected token or key expired (AudiModal's
	// expires_at with TOKEN_EXPIRED); zero when not given.
	ExpiresAt time.Time

	// RetryAfter is how long the server asked the caller to wait: the
	// Retry-After header (delay-seconds, or an HTTP-date measured from the
	// response's Date header, else from the local clock) when valid, else
	// the body's retry_after seconds. Zero when neither was given. It is
	// never negative and is capped at 100 years.
	RetryAfter time.Duration

	// RequestID is the server's identifier for the request, for support
	// tickets: the first non-empty of the response headers X-Request-Id
	// (any case, so also X-Request-ID), Request-Id, X-Amzn-Requestid,
	// X-Amz-Request-Id, X-Correlation-Id and Cf-Ray, trimmed to 128 bytes.
	RequestID string

	// Method is the request's method.
	Method string

	// Path is the request URL's escaped path only: never the scheme, host,
	// userinfo, query string or fragment. Path segments that look like API
	// keys or JWTs are replaced by "REDACTED".
	Path string

	// Body is the start of the raw response body, at most the read limit
	// (DefaultMaxErrorBody for CheckResponse), with the secrets the request
	// sent replaced by "[REDACTED]". It may still echo other things the
	// request sent, so it is never printed by Error or fmt.
	Body []byte
}

// Error returns a one-line description such as
//
//	apiauth: 401 Unauthorized: TOKEN_EXPIRED: Access token has expired (GET /v1/files; request id req_1)
//
// with the status, code, message, detail, required role, method, path and
// request id when known. It never prints the body, a query string, a header
// or a credential.
func (e *Error) Error() string {
	if e == nil {
		return "apiauth: <nil *Error>"
	}
	var b strings.Builder
	b.WriteString("apiauth: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(shownText(e.Code, maxShownShort))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(shownText(e.Message, maxShownText))
	}
	if e.Detail != "" && e.Detail != e.Message {
		b.WriteString(": ")
		b.WriteString(shownText(e.Detail, maxShownText))
	}
	var extra []string
	if e.RequiredRole != "" {
		extra = append(extra, "required role "+strconv.Quote(shownText(e.RequiredRole, maxShownShort)))
	}
	if e.Method != "" || e.Path != "" {
		extra = append(extra, strings.TrimSpace(shownText(e.Method, maxShownShort)+" "+shownText(e.Path, maxShownPath)))
	}
	if e.RequestID != "" {
		extra = append(extra, "request id "+shownText(e.RequestID, maxShownShort))
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, "; "))
		b.WriteByte(')')
	}
	return b.String()
}

// Is reports whether target is one of the kinds e belongs to. The kinds come
// from the status code (401 [ErrUnauthorized], 403 [ErrForbidden], 404
// [ErrNotFound], 429 [ErrRateLimited], 5xx [ErrServer]) and from the
// documented error codes, compared case-insensitively whatever the status:
// UNAUTHORIZED ([ErrUnauthorized]), INVALID_API_KEY ([ErrInvalidAPIKey] and
// [ErrUnauthorized]), TOKEN_EXPIRED ([ErrTokenExpired] and
// [ErrUnauthorized]), FORBIDDEN ([ErrForbidden]), INSUFFICIENT_PERMISSIONS
// ([ErrInsufficientPermissions] and [ErrForbidden]) and RATE_LIMIT_EXCEEDED
// ([ErrRateLimited]). Is does not compare fields: use [errors.As] for that.
func (e *Error) Is(target error) bool {
	k, ok := target.(*errkind.Kind)
	if !ok || e == nil {
		return false
	}
	code := func(c string) bool { return strings.EqualFold(e.Code, c) }
	switch k {
	case errkind.Unauthorized:
		return e.StatusCode == http.StatusUnauthorized ||
			code("UNAUTHORIZED") || code("INVALID_API_KEY") || code("TOKEN_EXPIRED")
	case errkind.TokenExpired:
		return code("TOKEN_EXPIRED")
	case errkind.InvalidAPIKey:
		return code("INVALID_API_KEY")
	case errkind.Forbidden:
		return e.StatusCode == http.StatusForbidden ||
			code("FORBIDDEN") || code("INSUFFICIENT_PERMISSIONS")
	case errkind.InsufficientPermissions:
		return code("INSUFFICIENT_PERMISSIONS")
	case errkind.NotFound:
		return e.StatusCode == http.StatusNotFound
	case errkind.RateLimited:
		return e.StatusCode == http.StatusTooManyRequests || code("RATE_LIMIT_EXCEEDED")
	case errkind.Server:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// Format implements [fmt.Formatter]. %v and %s print [Error.Error], %q its
// quoted form, %+v every field by name and %#v a Go-syntax form; the last two
// show Body and RawDetail by length only and mask key- and JWT-like strings.
func (e Error) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, e.goString())
	case verb == 'v' && f.Flag('+'):
		fmt.Fprintf(f, "apiauth.Error{StatusCode:%d Code:%q Message:%q Detail:%q RawDetail:<%d bytes> RequiredRole:%q ExpiresAt:%s RetryAfter:%s RequestID:%q Method:%q Path:%q Body:<%d bytes>}",
			e.StatusCode, shownText(e.Code, maxShownShort), shownText(e.Message, maxShownText),
			shownText(e.Detail, maxShownText), len(e.RawDetail), shownText(e.RequiredRole, maxShownShort),
			e.ExpiresAt.Format(time.RFC3339Nano), e.RetryAfter, shownText(e.RequestID, maxShownShort),
			shownText(e.Method, maxShownShort), shownText(e.Path, maxShownPath), len(e.Body))
	case verb == 'v' || verb == 's':
		io.WriteString(f, e.Error())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(e.Error()))
	default:
		fmt.Fprintf(f, "%%!%c(*apiauth.Error=%s)", verb, e.Error())
	}
}

// goString is the %#v form (Format prints it): the fields in Go syntax, with
// Body and RawDetail replaced by their length and key- and JWT-like strings
// masked.
func (e Error) goString() string {
	return fmt.Sprintf("&apiauth.Error{StatusCode:%d, Code:%q, Message:%q, Detail:%q, RawDetail:nil /* %d bytes */, RequiredRole:%q, ExpiresAt:%#v, RetryAfter:%d, RequestID:%q, Method:%q, Path:%q, Body:nil /* %d bytes */}",
		e.StatusCode, shownText(e.Code, maxShownShort), shownText(e.Message, maxShownText),
		shownText(e.Detail, maxShownText), len(e.RawDetail), shownText(e.RequiredRole, maxShownShort),
		e.ExpiresAt, int64(e.RetryAfter), shownText(e.RequestID, maxShownShort),
		shownText(e.Method, maxShownShort), shownText(e.Path, maxShownPath), len(e.Body))
}

func init() {
	// apiauth's error types, told apart by type, never by message: an
	// error of these kinds is wrapped without repeating its "apiauth: ".
	errkind.Register(func(err error) bool {
		switch err.(type) {
		case *Error, *RefreshError, *CredentialError:
			return true
		}
		return false
	})
}

// CheckResponse turns an error response into a typed error, reading at most
// [DefaultMaxErrorBody] of its body ([Client] reads
// ClientOptions.MaxErrorBody).
//
// It returns:
//   - nil when resp's status is below 400 (resp is left untouched);
//   - a [*RateLimitError] for a 429, whose Err is the decoded [*Error]. Its
//     Reset is the reset the rate-limit headers give, read exactly as Pace
//     reads them ([transport.ParseRateLimit]: X-RateLimit-Reset as epoch
//     seconds or milliseconds or seconds from now, told apart by magnitude
//     against the clock, an HTTP date, or the IETF RateLimit fields), else
//     the time of the check plus the server's wait, else zero. Retry-After
//     and a body's retry_after are read by the retry layer's readers
//     ([transport.RetryAfter], [transport.RetryAfterFromBody]).
//     Its RetryAfter is the *Error's (Retry-After, else the body's
//     retry_after) or, when the server gave none, the time left until Reset;
//     its MaxWait is zero;
//   - an [*Error] for every other status of 400 and above;
//   - a plain error, matching none of the sentinels, when resp is nil.
//
// Use [errors.Is] with the Err* sentinels to match kinds, and [errors.As] to
// reach the [*Error] (also inside a [*RateLimitError]) or the
// [*RateLimitError].
//
// For an error response, CheckResponse reads at most the limit from the body,
// discards up to 64 KiB more, closes the original body and replaces
// resp.Body with a reader over the bytes it read, so the caller can still
// read them (a body over the limit is cut at the limit). In those bytes and
// in the error, the secrets the request carried are replaced by
// "[REDACTED]" (see [Error]): the values of its Authorization, X-Api-Key and
// Proxy-Authorization headers, and what the layers of this module recorded
// sending for it. A failure while
// reading the body is not reported: the error is built from what was read.
func CheckResponse(resp *http.Response) error {
	return checkResponse(resp, DefaultMaxErrorBody, nil)
}

// credentialHeaders are the request headers whose values CheckResponse
// scrubs from an error built from the answer, besides the secrets the
// layers recorded.
var credentialHeaders = [...]string{"Authorization", "X-Api-Key", "Proxy-Authorization"}

// sentSecrets returns the exact secrets the request behind resp carried:
// sent, those recorded on its context by the layers that set them, and the
// values of its credential headers.
func sentSecrets(resp *http.Response, sent []string) *sentsecret.Scrubber {
	secrets := append([]string(nil), sent...)
	if req := resp.Request; req != nil {
		secrets = append(secrets, sentsecret.From(req.Context()).Secrets()...)
		for _, name := range credentialHeaders {
			for _, v := range req.Header.Values(name) {
				secrets = append(secrets, sentsecret.HeaderSecrets(v)...)
			}
		}
	}
	return sentsecret.NewScrubber(secrets...)
}

// checkResponse is CheckResponse reading at most limit bytes of an error
// body (zero or less means DefaultMaxErrorBody) and also scrubbing the
// secrets in sent (what the caller knows it sent, such as a token request's body) from
// the error it builds.
func checkResponse(resp *http.Response, limit int64, sent []string) error {
	if resp == nil {
		return errkind.New("apiauth: CheckResponse: nil response")
	}
	if resp.StatusCode < 400 {
		return nil
	}
	if limit <= 0 {
		limit = DefaultMaxErrorBody
	}
	scrub := sentSecrets(resp, sent)
	body := readErrorBody(resp, limit, scrub)
	now := time.Now()
	apiErr := newAPIError(resp, body, now, scrub)
	if resp.StatusCode != http.StatusTooManyRequests {
		return apiErr
	}
	rl := &RateLimitError{RetryAfter: apiErr.RetryAfter, Err: apiErr}
	rl.Reset = resetFor429(resp.Header, apiErr.RetryAfter, now)
	if rl.RetryAfter == 0 && !rl.Reset.IsZero() {
		rl.RetryAfter = max(rl.Reset.Sub(now), 0)
	}
	return rl
}

// readErrorBody reads at most limit bytes of resp.Body, drains a bounded
// amount more, closes it and replaces it with a reader over what was read,
// with the secrets of scrub replaced.
func readErrorBody(resp *http.Response, limit int64, scrub *sentsecret.Scrubber) []byte {
	orig := resp.Body
	if orig == nil || orig == http.NoBody {
		resp.Body = http.NoBody
		return nil
	}
	buf := new(bytes.Buffer)
	if resp.ContentLength > 0 && resp.ContentLength <= limit {
		buf.Grow(int(resp.ContentLength))
	}
	_, err := buf.ReadFrom(io.LimitReader(orig, limit))
	if err == nil && int64(buf.Len()) == limit {
		drain.Discard(orig, maxErrorDrain)
	}
	orig.Close()
	b := scrub.Bytes(buf.Bytes())
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// newAPIError builds the *Error for resp, whose body (already read and
// scrubbed) is body. Every string taken from the answer is scrubbed of the
// secrets of scrub: the error never holds a secret the request sent.
func newAPIError(resp *http.Response, body []byte, now time.Time, scrub *sentsecret.Scrubber) *Error {
	d := decodeErrorBody(body)
	e := &Error{
		StatusCode:   resp.StatusCode,
		Code:         d.code,
		Message:      d.message,
		Detail:       d.detail,
		RawDetail:    d.rawDetail,
		RequiredRole: d.requiredRole,
		ExpiresAt:    d.expiresAt,
		Body:         body,
	}
	if r, ok := transport.RetryAfterFromBody(body); ok {
		// The body's retry_after, read as the retry layer reads it.
		e.RetryAfter = min(r, maxServerWait)
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		ref := now
		if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			ref = date
		}
		// Read as the retry layer reads it (transport.RetryAfter), against
		// the server's clock when it sent one.
		if d, ok := transport.RetryAfter(resp, ref); ok {
			e.RetryAfter = min(d, maxServerWait)
		}
	}
	e.RequestID = requestID(resp.Header)
	if req := resp.Request; req != nil {
		e.Method = req.Method
		if e.Method == "" {
			e.Method = http.MethodGet
		}
		if req.URL != nil {
			e.Path = redactURLPath(req.URL.EscapedPath())
		}
	}
	if !scrub.Empty() {
		e.Code, e.Message, e.Detail = scrub.String(e.Code), scrub.String(e.Message), scrub.String(e.Detail)
		e.RequiredRole, e.RequestID, e.Path = scrub.String(e.RequiredRole), scrub.String(e.RequestID), scrub.String(e.Path)
		if e.RawDetail != nil {
			e.RawDetail = scrub.Bytes(e.RawDetail)
		}
	}
	return e
}

// resetFor429 returns when a 429's limit resets: the reset its rate-limit
// headers give, read by the parser Pace uses (transport.ParseRateLimit:
// X-RateLimit-Reset as epoch seconds or milliseconds or seconds from now,
// told apart by magnitude against the clock, a date, or the IETF RateLimit
// fields), else now plus retryAfter; zero when nothing says.
func resetFor429(h http.Header, retryAfter time.Duration, now time.Time) time.Time {
	if rl, ok := transport.ParseRateLimit(h, now, transport.ParseOptions{}); ok && !rl.Reset.IsZero() {
		return rl.Reset
	}
	if retryAfter > 0 {
		return now.Add(retryAfter)
	}
	return time.Time{}
}

// decodedErrorBody is what decodeErrorBody found in an error body.
type decodedErrorBody struct {
	code, message, detail string
	rawDetail             json.RawMessage
	requiredRole          string
	expiresAt             time.Time
}

// errorFields are the members an error object may carry, at the top level or
// under "error".
type errorFields struct {
	Code         json.RawMessage `json:"code"`
	Message      json.RawMessage `json:"message"`
	Detail       json.RawMessage `json:"detail"`
	RequiredRole json.RawMessage `json:"required_role"`
	ExpiresAt    json.RawMessage `json:"expires_at"`
}

type errorEnvelope struct {
	errorFields
	Error            json.RawMessage `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
}

// decodeErrorBody decodes the error body shapes described on [Error]. A body
// that is not a JSON object yields nothing; it never fails.
func decodeErrorBody(body []byte) decodedErrorBody {
	var out decodedErrorBody
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(b) == 0 || b[0] != '{' {
		return out
	}
	var env errorEnvelope
	if json.Unmarshal(b, &env) != nil {
		return out
	}
	out.apply(&env.errorFields)
	switch inner := bytes.TrimSpace(env.Error); {
	case len(inner) > 0 && inner[0] == '{':
		var f errorFields
		if json.Unmarshal(inner, &f) == nil {
			out.apply(&f)
		}
	case len(inner) > 0 && inner[0] == '"':
		s := errJSONText(inner)
		if desc := errJSONText(env.ErrorDescription); desc != "" {
			out.code, out.message = s, desc // OAuth2: {"error":"invalid_grant","error_description":"..."}
		} else if out.message == "" {
			out.message = s
		}
	}
	return out
}

// apply copies the non-empty members of f into d, replacing earlier values.
func (d *decodedErrorBody) apply(f *errorFields) {
	if s := errJSONText(f.Code); s != "" {
		d.code = s
	}
	if s := errJSONText(f.Message); s != "" {
		d.message = s
	}
	if s := errJSONText(f.RequiredRole); s != "" {
		d.requiredRole = s
	}
	if t, ok := errJSONTime(f.ExpiresAt); ok {
		d.expiresAt = t
	}
	raw := bytes.TrimSpace(f.Detail)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		d.detail, d.rawDetail = errJSONText(raw), nil
	default:
		if s := renderDetail(raw); s != "" {
			d.detail = s
		}
		d.rawDetail = append(json.RawMessage(nil), raw...)
	}
}

// fastAPIFieldError is one entry of FastAPI's 422 detail list. Its input member is
// deliberately not decoded.
type fastAPIFieldError struct {
	Loc     []json.RawMessage `json:"loc"`
	Msg     json.RawMessage   `json:"msg"`
	Message json.RawMessage   `json:"message"`
}

// renderDetail renders a non-string detail: a FastAPI list of field errors as
// "body.user_id: field required; ...", an object from its msg or message.
func renderDetail(raw json.RawMessage) string {
	var list []json.RawMessage
	if raw[0] == '[' {
		if json.Unmarshal(raw, &list) != nil {
			return ""
		}
	} else {
		list = []json.RawMessage{raw}
	}
	var parts []string
	for _, item := range list {
		item = bytes.TrimSpace(item)
		if len(item) == 0 {
			continue
		}
		switch item[0] {
		case '"':
			if s := errJSONText(item); s != "" {
				parts = append(parts, s)
			}
		case '{':
			var fe fastAPIFieldError
			if json.Unmarshal(item, &fe) != nil {
				continue
			}
			msg := errJSONText(fe.Msg)
			if msg == "" {
				msg = errJSONText(fe.Message)
			}
			if loc := renderLoc(fe.Loc); loc != "" {
				msg = loc + ": " + msg
			}
			if msg != "" {
				parts = append(parts, msg)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// renderLoc renders a FastAPI loc such as ["body","items",0,"name"] as
// "body.items[0].name".
func renderLoc(loc []json.RawMessage) string {
	var b strings.Builder
	for _, p := range loc {
		p = bytes.TrimSpace(p)
		if len(p) == 0 {
			continue
		}
		if p[0] == '"' {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(errJSONText(p))
		} else if _, err := strconv.ParseInt(string(p), 10, 64); err == nil {
			b.WriteString("[" + string(p) + "]")
		}
	}
	return b.String()
}

// errJSONText returns a JSON string's value, a JSON number's literal text, and
// "" for anything else.
func errJSONText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// errJSONTime reads an RFC 3339 string, or a JSON number of epoch seconds.
func errJSONTime(raw json.RawMessage) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return time.Time{}, false
	}
	if raw[0] == '"' {
		t, err := time.Parse(time.RFC3339, errJSONText(raw))
		return t, err == nil
	}
	v, err := strconv.ParseFloat(errJSONText(raw), 64)
	if err != nil || math.IsNaN(v) || v <= 0 || v >= 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// shownText prepares a server-supplied string for display: key- and JWT-like
// words masked, control characters replaced by spaces, cut to max bytes.
func shownText(s string, max int) string {
	s = maskCredentialWords(s)
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return truncateShown(s, max)
}

// truncateShown cuts s to at most max bytes on a rune boundary, marking the cut.
func truncateShown(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactURLPath masks the path segments that look like credentials and bounds
// the path's length.
func redactURLPath(p string) string {
	if !hasMaskMarker(p) {
		return truncateShown(p, maxShownPath)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if credentialWord(s) {
			segs[i] = "REDACTED"
		}
	}
	return truncateShown(strings.Join(segs, "/"), maxShownPath)
}

// maskedPrefixes start API keys (AudiModal's sk_live_, sk_test_, tk_) and
// JWTs (a base64url-encoded JSON header, "eyJ").
var maskedPrefixes = [...]string{"sk_live_", "sk_test_", "tk_", "eyJ"}

func hasMaskMarker(s string) bool {
	for _, p := range maskedPrefixes {
		if strings.Contains(s, p) {
			return true
		}
	}
	return containsFoldASCII(s, "bearer") || containsFoldASCII(s, "basic")
}

func containsFoldASCII(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// credentialWord reports whether a word looks like an API key or a JWT.
func credentialWord(w string) bool {
	for _, p := range maskedPrefixes[:3] {
		if len(w) > len(p)+3 && strings.HasPrefix(w, p) {
			return true
		}
	}
	return len(w) > 10 && strings.HasPrefix(w, "eyJ") && strings.Contains(w, ".")
}

// schemeParamLike reports whether the word after "Bearer" or "Basic" looks
// like a credential rather than prose ("a bearer token").
func schemeParamLike(w string) bool {
	return len(w) >= 16 || strings.ContainsAny(w, "0123456789=")
}

func isMaskWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_-.~+/=", c) >= 0
}

// maskCredentialWords replaces the words of s that look like credentials, and the
// word after "Bearer" or "Basic", with "[REDACTED]".
func maskCredentialWords(s string) string {
	if !hasMaskMarker(s) {
		return s
	}
	var b strings.Builder
	prevScheme := false
	for i := 0; i < len(s); {
		if !isMaskWordByte(s[i]) {
			if s[i] != ' ' {
				prevScheme = false
			}
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isMaskWordByte(s[j]) {
			j++
		}
		w := s[i:j]
		if (prevScheme && schemeParamLike(w)) || credentialWord(w) {
			b.WriteString("[REDACTED]")
		} else {
			b.WriteString(w)
		}
		prevScheme = strings.EqualFold(w, "bearer") || strings.EqualFold(w, "basic")
		i = j
	}
	return b.String()
}
