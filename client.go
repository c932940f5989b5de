package apiauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apiauth/apiauth/internal/drain"
	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/apiauth/apiauth/internal/hostcheck"
	"github.com/apiauth/apiauth/internal/sentsecret"
	tenantctx "github.com/apiauth/apiauth/internal/tenant"
	"github.com/apiauth/apiauth/transport"
)

// Version is the SDK's version, sent in the User-Agent header as
// "apiauth-go/<Version>".
const Version = "0.1.0"

// DefaultUserAgent is the User-Agent the [Client] sends.
const DefaultUserAgent = "apiauth-go/" + Version

// DefaultMaxResponseBody is the largest 2xx body, in bytes, that
// [Client.Do] decodes: 32 MiB.
const DefaultMaxResponseBody = 32 << 20

// ClientOptions configures a [Client]. The zero value is ready to use; every
// zero field means the default documented on it. NewClient copies the
// options; later changes to them have no effect.
type ClientOptions struct {
	// Base is the innermost RoundTripper, the one that talks to the network.
	// Nil means [transport.NewBase]: a clone of http.DefaultTransport that
	// keeps up to 100 idle connections to the API's host instead of 2
	// (http.DefaultTransport itself is never modified). To change its TLS
	// settings, start from transport.NewBase.
	Base http.RoundTripper

	// AllowedOrigins lists origins besides the base URL's that may receive
	// the credential (see [transport.Auth.AllowedOrigins]). Nil means none.
	AllowedOrigins []string

	// AllowInsecure lets the credential travel over plain http:// to a host
	// that is not loopback. False refuses such a base URL in NewClient, and
	// any request that would send the credential that way (an absolute URL,
	// a redirect), with an error matching [ErrInsecureTransport].
	AllowInsecure bool

	// TenantHeader names the header carrying the tenant or organization
	// override: X-Tenant-ID (AudiModal), X-Organization-ID (Voltasis),
	// X-Org-Slug (Artanis). Empty means the API takes no override.
	TenantHeader string

	// Tenant is the default tenant override sent on every request whose
	// context carries none (see [WithTenant]). Empty means none.
	Tenant string

	// Retry configures the retry layer. The zero value means its defaults
	// (4 attempts, capped jittered backoff, server waits up to 60 s, a retry
	// budget); see [transport.RetryOptions]. A nil Logger in it means
	// Logger below.
	Retry transport.RetryOptions

	// Pace configures the rate-limit layer. The zero value means its
	// defaults (requests paced from the server's limit headers, waits up to
	// 60 s, then a [*RateLimitError]); see [transport.PaceOptions]. A nil
	// Logger in it means Logger below; a nil Identity means Identity below.
	Pace transport.PaceOptions

	// Identity names the credential for rate-limit bookkeeping (and, in a
	// fleet, for the shared budget): requests with the same identity to the
	// same host share one budget. It must not be a secret. Empty means one
	// derived from the credential: a SHA-256 prefix of an API key or static
	// token, never the key itself.
	Identity string

	// Timeout bounds each call of [Client.Do], retries and waits included.
	// Zero means no bound beyond the request's context.
	Timeout time.Duration

	// UserAgent replaces [DefaultUserAgent]. Empty means the default.
	UserAgent string

	// MaxErrorBody caps how much of an error answer is read. Zero means
	// [DefaultMaxErrorBody] (1 MiB).
	MaxErrorBody int64

	// MaxResponseBody caps how much of a 2xx answer [Client.Do] reads to
	// decode it; a longer body fails with an error wrapping
	// *http.MaxBytesError. Zero means [DefaultMaxResponseBody] (32 MiB); a
	// negative value means no cap.
	MaxResponseBody int64

	// Logger receives the layers' events, redacted. Nil means no logging.
	Logger *slog.Logger

	// Observer receives the stack's events (calls, attempts, waits,
	// rate-limit snapshots) for tracing and metrics; see
	// [transport.Observer], and the nested module
	// github.com/apiauth/apiauth/otel/apiauthotel for OpenTelemetry. The
	// zero value observes nothing. Token refreshes are observed through
	// the token cache's [CacheOptions.OnRefreshStart].
	Observer transport.Observer

	// OnResponse, when set, is called with every response [Client.Do]
	// receives, on the calling goroutine, once its body is read and closed
	// and just before Do returns: with a 2xx answer and with an error
	// answer alike. It is how the typed family methods, which return
	// decoded values, show their request id, status and rate-limit
	// snapshot (for logs and metrics). It is not called when no response
	// was received. It must not keep the Response's body, which is closed.
	OnResponse func(*Response)
}

// Client calls one API at one base URL with one credential. It is safe for
// concurrent use. Every request goes through the same stack of layers
// ([transport.New]), which [Client.HTTPClient] also exposes: retry, then
// rate-limit pacing, then auth (origin and HTTPS checks, credential, tenant
// override, one retry after a 401 with a fresh token), then the base
// transport.
type Client struct {
	base   *url.URL
	stack  *transport.Stack
	hc     *http.Client
	ua     string
	maxErr int64
	maxOut int64

	onResponse func(*Response)
}

// NewClient returns a client for the API at baseURL, which may carry a path
// prefix ("https://api.audimodal.ai/v1"): request paths are joined to it.
// cred may be nil for public endpoints. opts may be nil.
func NewClient(baseURL string, cred transport.Credential, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errkind.Errorf("apiauth: base URL must be an absolute http(s) URL: %w", ErrInvalidConfig)
	}
	if cred != nil && u.Scheme == "http" && !o.AllowInsecure && !hostcheck.Loopback(u.Hostname()) {
		// Every request would be refused: say so once, here.
		return nil, &transport.InsecureError{Host: u.Host}
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	base := o.Base
	if base == nil {
		base = transport.NewBase()
	} else if u, ok := cred.(transportUser); ok {
		// The token source rides the client's transport (see
		// SourceOptions.HTTPClient).
		u.useTransport(base)
	}
	// o is a copy: the caller's options are never written, and every client
	// builds layers of its own from them, so one ClientOptions value may
	// serve any number of clients without their credentials ever meeting.
	if o.Retry.Logger == nil {
		o.Retry.Logger = o.Logger
	}
	if o.Pace.Logger == nil {
		o.Pace.Logger = o.Logger
	}
	if o.Pace.Identity == nil {
		id := o.Identity
		if id == "" {
			id = credentialIdentity(cred)
		}
		o.Pace.Identity = func(*http.Request) string { return id }
	}
	stack, err := transport.New(base, transport.Options{
		Retry: o.Retry,
		Pace:  o.Pace,
		Auth: transport.AuthOptions{
			Credential:     cred,
			Origin:         u.Scheme + "://" + u.Host,
			AllowedOrigins: o.AllowedOrigins,
			AllowInsecure:  o.AllowInsecure,
			TenantHeader:   o.TenantHeader,
			Tenant:         o.Tenant,
			Logger:         o.Logger,
		},
		Observer: o.Observer,
	})
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:   u,
		stack:  stack,
		hc:     &http.Client{Transport: stack, CheckRedirect: stack.CheckRedirect, Timeout: o.Timeout},
		ua:     o.UserAgent,
		maxErr: o.MaxErrorBody,
		maxOut: o.MaxResponseBody,

		onResponse: o.OnResponse,
	}
	if c.maxOut == 0 {
		c.maxOut = DefaultMaxResponseBody
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	return c, nil
}

// NewHTTPClient returns a plain *http.Client carrying the whole stack for
// the API at baseURL: NewClient(baseURL, cred, opts) followed by
// [Client.HTTPClient], for code that only needs an *http.Client (a
// generated client, a third-party library). Its Do returns every answer as
// it is, with err == nil; pass it to [CheckResponse] for a typed error.
// ClientOptions.UserAgent (set by [Client.NewRequest]) and OnResponse
// (called by [Client.Do]) do not apply.
func NewHTTPClient(baseURL string, cred transport.Credential, opts *ClientOptions) (*http.Client, error) {
	c, err := NewClient(baseURL, cred, opts)
	if err != nil {
		return nil, err
	}
	return c.HTTPClient(), nil
}

// HTTPClient returns a plain *http.Client carrying the client's whole stack,
// for generated clients and other libraries. Its redirect policy follows at
// most 10 hops, refuses an https-to-http downgrade, and follows redirects to
// other origins without any credential or tenant header. It does not map
// statuses to errors; use [CheckResponse] for that.
func (c *Client) HTTPClient() *http.Client {
	hc := *c.hc
	return &hc
}

// RateLimitState returns what the client's rate-limit layer knows of the
// budgets of the hosts it called, for health endpoints and logs: per host
// and credential identity (a hash, never the credential), the limit and
// remaining count the server last sent, the reset, the learned window and
// the requests in flight. It is safe to call while requests run and cheap
// (see [transport.Pace.State]). For the token's state, see
// [TokenCache.State].
func (c *Client) RateLimitState() []transport.PaceState { return c.stack.RateLimitState() }

// BaseURL returns a copy of the client's base URL.
func (c *Client) BaseURL() *url.URL {
	u := *c.base
	return &u
}

// NewRequest builds a request for path, relative to the base URL (its query
// string is kept: "api/prompts?projectSlug=p"). A non-nil body is encoded as
// JSON. An absolute URL is used as it is; the credential still goes only to
// the base URL's origin.
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	u, err := c.resolve(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, errkind.Errorf("apiauth: encoding request body: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, errkind.Errorf("apiauth: building request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	return req, nil
}

func (c *Client) resolve(path string) (*url.URL, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, errkind.Errorf("apiauth: invalid request path: %w", ErrInvalidConfig)
	}
	if ref.IsAbs() {
		return ref, nil
	}
	u := joinPath(c.base, ref.Path)
	if c.base.RawPath != "" || ref.RawPath != "" {
		// Keep escapes the default encoding would lose, such as %2F in a
		// path segment (an ID holding a slash): joinPath works on the
		// decoded path only.
		u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + "/" + strings.TrimPrefix(ref.EscapedPath(), "/")
	}
	u.RawQuery = ref.RawQuery
	return u, nil
}

// Response is an API answer with what apiauth read from it.
type Response struct {
	*http.Response
	// RequestID is the server's request id, if it sent one.
	RequestID string
	// RateLimit is the rate-limit snapshot the response's headers carry;
	// its Present field is false when they carry none.
	RateLimit transport.RateLimit
}

// Do sends req through the client's stack. A 2xx answer's JSON body is
// decoded into out (unless out is nil, when it is discarded); any other
// answer becomes the error [CheckResponse] returns for it, so branch on it
// with errors.Is and errors.As. Transport failures are wrapped with %w and
// never show the URL's query string. The returned Response's body is always
// closed; it is nil only when no response was received.
func (c *Client) Do(req *http.Request, out any) (*Response, error) {
	r, err := c.do(req, out)
	if r != nil && c.onResponse != nil {
		c.onResponse(r)
	}
	return r, err
}

func (c *Client) do(req *http.Request, out any) (*Response, error) {
	// The layers record the exact secrets they send on the context, so that
	// an answer echoing one never shows it in the error built from it.
	ctx, sent := sentsecret.With(req.Context())
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(req, err)
	}
	defer resp.Body.Close()
	r := &Response{Response: resp, RequestID: requestID(resp.Header)}
	r.RateLimit, _ = transport.RateLimitFromResponse(resp)
	var secrets []string
	if resp.StatusCode >= 400 {
		secrets = sent.Secrets() // copied only when an error is built
	}
	if err := checkResponse(resp, c.maxErr, secrets); err != nil {
		return r, err
	}
	if out == nil {
		drain.Discard(resp.Body, 64<<10) // closed by the deferred Close
		return r, nil
	}
	body := &clientBody{r: resp.Body}
	if c.maxOut > 0 {
		body.r = http.MaxBytesReader(nil, resp.Body, c.maxOut)
	}
	if err := json.NewDecoder(body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		// A failed read (a reset, a cancelled context, the size cap) is
		// reported as such, not as the invalid JSON it leaves behind.
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(body.err, &tooLarge):
			return r, errkind.Errorf("apiauth: %s %s: %w", req.Method, req.URL.Path,
				&quietError{fmt.Sprintf("response body larger than %d bytes", tooLarge.Limit), tooLarge})
		case body.err != nil && body.err != io.EOF:
			return r, errkind.Errorf("apiauth: %s %s: reading response: %w", req.Method, req.URL.Path, body.err)
		}
		return r, errkind.Errorf("apiauth: %s %s: decoding response: %w", req.Method, req.URL.Path, describeJSONError(err))
	}
	return r, nil
}

// clientBody remembers the error of the last read from r.
type clientBody struct {
	r   io.Reader
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.err = err
	return n, err
}

// transportError unwraps net/http's *url.Error, whose message holds the
// whole URL, query string included, and states the method and path instead.
func (c *Client) transportError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && req.Context().Err() == nil {
		return errkind.Errorf("apiauth: %s %s: timeout: %w", req.Method, req.URL.Path, err)
	}
	if errkind.Own(err) {
		// A layer's own error already says what failed, and how.
		return err
	}
	return errkind.Errorf("apiauth: %s %s: %w", req.Method, req.URL.Path, err)
}

// Get sends GET path and decodes the JSON answer into out.
func (c *Client) Get(ctx context.Context, path string, out any) (*Response, error) {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// Post sends POST path with in encoded as JSON and decodes the answer into
// out.
func (c *Client) Post(ctx context.Context, path string, in, out any) (*Response, error) {
	return c.call(ctx, http.MethodPost, path, in, out)
}

// Put sends PUT path with in encoded as JSON and decodes the answer into
// out.
func (c *Client) Put(ctx context.Context, path string, in, out any) (*Response, error) {
	return c.call(ctx, http.MethodPut, path, in, out)
}

// Patch sends PATCH path with in encoded as JSON and decodes the answer into
// out.
func (c *Client) Patch(ctx context.Context, path string, in, out any) (*Response, error) {
	return c.call(ctx, http.MethodPatch, path, in, out)
}

// Delete sends DELETE path and decodes any JSON answer into out.
func (c *Client) Delete(ctx context.Context, path string, out any) (*Response, error) {
	return c.call(ctx, http.MethodDelete, path, nil, out)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) (*Response, error) {
	req, err := c.NewRequest(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	return c.Do(req, out)
}

// CloseIdleConnections closes idle connections of the client's transport.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// WithTenant returns a copy of ctx carrying a per-request tenant or
// organization override, sent in the client's TenantHeader. An empty tenant
// clears any override further up the context. It is the SDK's one
// WithTenant: a stack built with transport.New reads it too.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return tenantctx.With(ctx, tenant)
}
