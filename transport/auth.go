package transport

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"

	"github.com/apiauth/apiauth/internal/drain"
	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/hostcheck"
	"github.com/apiauth/apiauth/internal/sentsecret"
	tenantctx "github.com/apiauth/apiauth/internal/tenant"
)

// AuthOptions configures an [Auth] layer. It is a plain value: the zero
// value sends no credential, and one value may configure any number of
// layers (see [New]).
type AuthOptions struct {
	// Credential attaches the credential. Nil means send no credential (a
	// public endpoint); the tenant header and origin scoping still apply.
	Credential Credential

	// Origin is the base URL of the API, such as
	// "https://api.example.com/v1": only its scheme, host and port count.
	// It is required when Credential, Tenant or TenantHeader is set. Empty
	// means no origin is trusted.
	Origin string

	// AllowedOrigins lists further base URLs that may receive the credential
	// and the tenant header. Nil means none.
	AllowedOrigins []string

	// AllowInsecure lets the credential travel over plain http:// to hosts
	// that are not loopback. False (the default) refuses such requests with an
	// [*InsecureError]; loopback hosts (localhost, 127.0.0.0/8, ::1) are
	// always allowed.
	AllowInsecure bool

	// TenantHeader is the header that carries the tenant or organization
	// override, such as "X-Tenant-ID" (where the credential also sets it,
	// the override replaces the value the credential set). Empty means the API takes no override; then
	// a request whose context carries one (see apiauth.WithTenant) fails with an
	// error matching apiauth.ErrInvalidCredential rather than silently
	// running in the default tenant; clear the override for such calls with
	// apiauth.WithTenant(ctx, "").
	TenantHeader string

	// Tenant is the default tenant, sent when the request's context carries
	// no override. Empty means send none. It must satisfy the same rules as
	// an override: 1 to 256 bytes of visible ASCII (no space, no control
	// character); an override that breaks them fails the request with an
	// error matching apiauth.ErrInvalidCredential, and nothing is sent.
	Tenant string

	// Logger receives debug records about 401 retries and warnings about
	// failed renewals; it never receives a credential, a header value or a
	// query string. Nil means no logging.
	Logger *slog.Logger
}

// Auth is an [http.RoundTripper] that attaches a [Credential] and a tenant
// override to requests bound for its origin, and to no other.
//
// For each request it:
//
//   - leaves the caller's request untouched: headers are set on a copy;
//   - attaches the credential and the tenant header only when the request and
//     every earlier hop of its redirect chain went to [Auth.Origin] or one of
//     [Auth.AllowedOrigins] (same scheme, host and port, default ports
//     normalized, host compared case-insensitively; a subdomain or an https
//     to http downgrade is another origin);
//   - on a redirect hop whose chain crossed origins (a -> b, a -> sub.a,
//     https -> http, and also the last hop of a -> b -> a), sends none of
//     its headers and strips the credential headers the caller set by hand,
//     since net/http copies headers such as x-api-key to every hop: see
//     [Auth.StrippedHeaders]. Every spelling of a name is stripped, so a
//     key set directly as req.Header["x-api-key"] goes too;
//   - on a request it attaches to, replaces every spelling of a header it
//     sets: a hand-set lower-case tenant header never travels beside the
//     override;
//   - refuses to send a credential over plain http:// to a host that is not
//     loopback unless [Auth.AllowInsecure] is set (an [*InsecureError]);
//   - after a 401 answer, when the credential implements [Invalidator],
//     invalidates the credential that was used, applies it again and retries
//     once if the body can be replayed (no body, [http.NoBody], or
//     [http.Request.GetBody] set). Any 401 qualifies, whatever its body
//     says (an expired token, a revoked one); a second 401 is returned as it is. A credential without
//     Invalidator (a static key) is never retried.
//
// A request that the caller itself addressed to another origin is passed on
// unchanged, so the same client can call other services with their own
// headers.
//
// Configuration is read and checked once, on the first call to
// [Auth.RoundTrip], [Auth.CheckRedirect] or [Auth.Validate]; the fields must
// not change after that, and an Auth must not be copied after first use. A
// configuration error is returned by Validate and by every RoundTrip (which
// then closes the request body and sends nothing). The zero Auth is valid: it
// sends no credential and forwards requests through a clone of
// [http.DefaultTransport], stripping only hand-set credential headers on
// cross-origin redirect hops.
//
// Auth is safe for concurrent use.
type Auth struct {
	// Base is the RoundTripper that sends the requests. Nil means one from
	// [NewBase] made on first use (http.DefaultTransport itself is never
	// modified).
	Base http.RoundTripper

	// AuthOptions holds the layer's settings; they must not change after
	// the first request.
	AuthOptions

	once sync.Once
	cfg  *authConfig
	err  error
}

// authConfig is the validated, parsed form of an Auth's fields.
type authConfig struct {
	base          http.RoundTripper
	cred          Credential
	inv           Invalidator  // cred as an Invalidator, nil if it is not one
	origins       []authOrigin // Origin first, then AllowedOrigins
	allowInsecure bool
	tenantHeader  string   // canonical form, "" if none
	tenant        string   // default tenant, "" if none
	strip         []string // canonical names of every credential header
	logger        *slog.Logger
}

// authCredentialHeaders are always stripped from requests to foreign
// origins, whatever the credential: the two conventional places for a
// secret. A credential that uses others names them ([HeaderNamer]).
var authCredentialHeaders = [...]string{"Authorization", "X-Api-Key"}

// InsecureError reports a request refused because it would have sent a
// credential, or followed a redirect, over plain http:// to a host that is
// not loopback. It matches apiauth.ErrInsecureTransport under [errors.Is].
// Retrying cannot help: the request is never retried by apiauth's layers.
type InsecureError struct {
	// Host is the host (and port, if given) of the refused URL; it never
	// holds a path or query.
	Host string
	// Redirect is true when the refused request was a redirect from https to
	// http (see [Auth.CheckRedirect]), false when it was the credential
	// itself that was refused.
	Redirect bool
}

// Error describes the refusal without any credential or URL path.
func (e *InsecureError) Error() string {
	if e.Redirect {
		return "apiauth: refused redirect from https to plain http://" + e.Host
	}
	return "apiauth: credential refused over plain http://" + e.Host + " (use https, or set AllowInsecure)"
}

// Is reports whether target is apiauth.ErrInsecureTransport.
func (e *InsecureError) Is(target error) bool { return target == errkind.InsecureTransport }

// Validate checks the configuration and prepares the layer (parses the
// origins, clones the default transport if Base is nil). It returns the error
// every RoundTrip would return, or nil. Calling it is optional: it lets a
// constructor fail early instead of on the first request.
func (a *Auth) Validate() error {
	_, err := a.config()
	return err
}

// StrippedHeaders returns the canonical names of the headers removed from a
// redirect hop to a foreign origin: Authorization, X-Api-Key, the tenant
// header, and every name the credential reports through
// [HeaderNamer]. Each is removed under every spelling of its name (compared
// under ASCII case folding), not only the canonical one. Cookie is not among
// them: no apiauth credential is a cookie, net/http drops a hand-set Cookie
// header on redirects to other domains, and a cookie jar scopes its own
// cookies. It returns nil if the configuration is invalid.
func (a *Auth) StrippedHeaders() []string {
	c, err := a.config()
	if err != nil {
		return nil
	}
	return append([]string(nil), c.strip...)
}

func (a *Auth) config() (*authConfig, error) {
	a.once.Do(func() { a.cfg, a.err = a.build() })
	return a.cfg, a.err
}

func (a *Auth) build() (*authConfig, error) {
	c := &authConfig{
		base:          a.Base,
		cred:          a.Credential,
		allowInsecure: a.AllowInsecure,
		tenant:        a.Tenant,
		logger:        a.Logger,
	}
	if inv, ok := a.Credential.(Invalidator); ok {
		c.inv = inv
	}
	if a.Origin == "" {
		if a.Credential != nil || a.Tenant != "" || a.TenantHeader != "" {
			return nil, errkind.New("apiauth: transport.Auth: Origin is required with a Credential, Tenant or TenantHeader")
		}
	} else {
		o, err := parseAuthOrigin("Origin", a.Origin)
		if err != nil {
			return nil, err
		}
		c.origins = append(c.origins, o)
	}
	for i, raw := range a.AllowedOrigins {
		o, err := parseAuthOrigin(fmt.Sprintf("AllowedOrigins[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		c.origins = append(c.origins, o)
	}
	if a.TenantHeader != "" {
		if !authValidHeaderName(a.TenantHeader) {
			return nil, errkind.New("apiauth: transport.Auth: TenantHeader is not a valid header name")
		}
		c.tenantHeader = http.CanonicalHeaderKey(a.TenantHeader)
	}
	if a.Tenant != "" {
		if c.tenantHeader == "" {
			return nil, errkind.New("apiauth: transport.Auth: Tenant is set but TenantHeader is empty")
		}
		if !authValidTenant(a.Tenant) {
			return nil, errkind.Errorf("apiauth: transport.Auth: Tenant must be 1 to %d bytes of visible ASCII: %w", authMaxTenantLen, errkind.InvalidCredential)
		}
	}

	c.strip = append(c.strip, authCredentialHeaders[:]...)
	add := func(name string) {
		name = http.CanonicalHeaderKey(name)
		for _, s := range c.strip {
			if s == name {
				return
			}
		}
		c.strip = append(c.strip, name)
	}
	if c.tenantHeader != "" {
		add(c.tenantHeader)
	}
	if hn, ok := a.Credential.(HeaderNamer); ok {
		for _, name := range hn.HeaderNames() {
			if name != "" {
				add(name)
			}
		}
	}

	if c.base == nil {
		c.base = NewBase()
	}
	return c, nil
}

// RoundTrip sends req through Base, attaching the credential and tenant when
// req belongs to the trusted origins (see [Auth]). It never modifies req,
// closes req.Body on every error it returns before handing the request to
// Base, and returns a nil error whenever it got a response, whatever its
// status.
func (a *Auth) RoundTrip(req *http.Request) (*http.Response, error) {
	c, err := a.config()
	if err != nil {
		authCloseBody(req)
		return nil, err
	}
	switch c.classify(req) {
	case authHopPass:
		return c.send(req)
	case authHopStrip:
		return c.send(c.stripped(req))
	}

	ctx := req.Context()
	tenant := c.tenant
	if t, ok := tenantctx.From(ctx); ok && t != "" {
		tenant = t
	}
	if tenant != "" {
		if c.tenantHeader == "" {
			authCloseBody(req)
			return nil, errkind.Errorf("apiauth: tenant override set on the context, but this API takes none (transport.Auth.TenantHeader is empty): %w", errkind.InvalidCredential)
		}
		if !authValidTenant(tenant) {
			authCloseBody(req)
			return nil, errkind.Errorf("apiauth: invalid %s value: must be 1 to %d bytes of visible ASCII: %w", c.tenantHeader, authMaxTenantLen, errkind.InvalidCredential)
		}
	}
	if c.cred == nil {
		if tenant == "" {
			return c.send(req)
		}
		r2 := authClone(req, 1)
		headerSet(r2.Header, c.tenantHeader, tenant)
		return c.send(r2)
	}
	if !c.allowInsecure && originPlainHTTP(req.URL) {
		authCloseBody(req)
		return nil, &InsecureError{Host: req.URL.Host}
	}

	r2 := authClone(req, 3)
	c.canonicalize(r2.Header)
	used, err := c.cred.Apply(ctx, r2.Header)
	if err != nil {
		authCloseBody(req)
		return nil, errkind.Errorf("apiauth: attach credential: %w", err)
	}
	c.recordSent(ctx, r2.Header)
	if tenant != "" {
		headerSet(r2.Header, c.tenantHeader, tenant)
	}
	resp, err := c.send(r2)
	if err != nil || resp == nil || resp.StatusCode != http.StatusUnauthorized || c.inv == nil {
		return resp, err
	}
	return c.reauth(req, resp, used, tenant)
}

// reauth handles a 401 answer to a credentialed request: it invalidates the
// credential that was used, applies it again and sends req once more. It
// returns the first response untouched when the body cannot be replayed or
// the credential cannot be renewed. If the retry fails in Base, the first
// response is already drained and closed, and the retry's error is returned.
func (c *authConfig) reauth(req *http.Request, resp *http.Response, used any, tenant string) (*http.Response, error) {
	ctx := req.Context()
	body := req.Body
	if body != nil && body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body is gone: the caller gets the 401
		}
		var err error
		if body, err = req.GetBody(); err != nil {
			c.log(ctx, slog.LevelWarn, "apiauth: 401 not retried: request body could not be replayed", req, slog.String("error", err.Error()))
			return resp, nil
		}
	}
	dropped := c.inv.InvalidateCredential(used)
	r3 := authClone(req, 3)
	r3.Body = body
	c.canonicalize(r3.Header)
	if _, err := c.cred.Apply(ctx, r3.Header); err != nil {
		if body != nil {
			body.Close()
		}
		c.log(ctx, slog.LevelWarn, "apiauth: 401 not retried: renewing the credential failed", req, slog.String("error", err.Error()))
		return resp, nil
	}
	c.recordSent(ctx, r3.Header)
	if tenant != "" {
		headerSet(r3.Header, c.tenantHeader, tenant)
	}
	c.log(ctx, slog.LevelDebug, "apiauth: 401: retrying once with a renewed credential", req, slog.Bool("dropped", dropped))
	authDrain(resp.Body)
	return c.send(r3)
}

// CheckRedirect is a redirect policy for the [http.Client] whose Transport
// holds a (the apiauth client installs it). It:
//
//   - stops after 10 hops, like net/http's default;
//   - refuses a redirect from https to plain http:// (an [*InsecureError] with
//     Redirect set), unless the target is loopback or [Auth.AllowInsecure]
//     is set: a downgrade would expose the URL and, for 307 and 308, the
//     body;
//   - follows every other redirect, including ones to other origins: those
//     hops travel bare, because RoundTrip strips every credential header
//     from them (see [Auth]). This is what a download redirected to a
//     pre-signed storage URL needs.
//
// Like every policy, it is consulted by [http.Client] only; RoundTrip
// scopes credentials on its own, so a client with net/http's default policy
// leaks no credential either.
func (a *Auth) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errkind.New("apiauth: stopped after 10 redirects")
	}
	c, err := a.config()
	if err != nil {
		return err
	}
	if len(via) > 0 && !c.allowInsecure && originPlainHTTP(req.URL) &&
		hostcheck.EqualFold(via[len(via)-1].URL.Scheme, "https") {
		return &InsecureError{Host: req.URL.Host, Redirect: true}
	}
	return nil
}

// CloseIdleConnections closes the idle connections of Base, if it has a
// CloseIdleConnections method.
func (a *Auth) CloseIdleConnections() {
	c, err := a.config()
	if err != nil {
		return
	}
	if ci, ok := c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// recordSent records the values of the credential headers of h (all the
// headers a credential may set, the tenant header excepted: a tenant is no
// secret) on the secret recorder of ctx, if any, so that an error built from
// an answer that echoes them can scrub them.
func (c *authConfig) recordSent(ctx context.Context, h http.Header) {
	rec := sentsecret.From(ctx)
	if rec == nil {
		return
	}
	for _, name := range c.strip {
		if name == c.tenantHeader {
			continue
		}
		for _, v := range h[name] {
			rec.Add(sentsecret.HeaderSecrets(v)...)
		}
	}
}

// send hands r to the base RoundTripper and makes sure the response records
// the request it answers, which the redirect-chain walk of a later hop
// relies on.
func (c *authConfig) send(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	if resp != nil && resp.Request == nil {
		resp.Request = r
	}
	return resp, nil
}

// stripped returns req unchanged if it carries none of the credential
// headers, or else a copy without them. Every spelling of a name counts: a
// key set by hand as req.Header["x-api-key"] is sent by net/http as it is.
func (c *authConfig) stripped(req *http.Request) *http.Request {
	found := false
	for _, name := range c.strip {
		if headerHas(req.Header, name) {
			found = true
			break
		}
	}
	if !found {
		return req
	}
	r2 := authClone(req, 0)
	for _, name := range c.strip {
		headerDel(r2.Header, name)
	}
	return r2
}

// canonicalize gathers every hand-set spelling of each credential and
// tenant header of h under its canonical name (see [headerCanonicalize]),
// so that the credential's Apply, which sets canonical keys, replaces the
// caller's value instead of travelling beside it.
func (c *authConfig) canonicalize(h http.Header) {
	for _, name := range c.strip {
		headerCanonicalize(h, name)
	}
}

// authClone returns a shallow copy of r with a header map of its own, room
// for extra more entries. The copied value slices are capped at their length,
// so an Add on the copy reallocates instead of writing into the caller's
// backing array. URL, body and the other fields are shared: the layer never
// modifies them.
func authClone(r *http.Request, extra int) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	h := make(http.Header, len(r.Header)+extra)
	for k, v := range r.Header {
		h[k] = v[:len(v):len(v)]
	}
	r2.Header = h
	return r2
}

// authCloseBody closes req.Body, if any, as RoundTrip must on early returns.
func authCloseBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// authMaxDrain bounds how much of a 401 body is read before it is closed, so the
// connection can be reused without reading an unbounded body.
const authMaxDrain = 4 << 10

func authDrain(body io.ReadCloser) { drain.Close(body, authMaxDrain) }

func (c *authConfig) log(ctx context.Context, level slog.Level, msg string, req *http.Request, attrs ...slog.Attr) {
	if c.logger == nil || !c.logger.Enabled(ctx, level) {
		return
	}
	attrs = append(attrs, slog.String("method", req.Method), slog.String("host", authHost(req.URL)))
	c.logger.LogAttrs(ctx, level, msg, attrs...)
}

func authHost(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}
