package apiauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiauth/apiauth/transport"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/hostcheck"
	"github.com/apiauth/apiauth/internal/redact"
)

// DefaultMaxTokenResponse caps how much of a token endpoint's answer is read.
const DefaultMaxTokenResponse = 64 << 10

// SourceOptions configures the token sources that call an HTTP endpoint
// ([NewTokenEndpoint], [NewLoginSource]). The zero value is ready to use.
type SourceOptions struct {
	// HTTPClient sends the token requests. Nil means a client of the
	// source's own with a 30 s timeout over the base transport of the
	// first [Client] the source serves (ClientOptions.Base, so a TLS setup
	// made there holds for the token endpoint too), or over a transport
	// from [transport.NewBase] until then and when that Base is nil. Whatever client is given, the source never
	// follows redirects: a token request carries a secret and must reach
	// the URL it was meant for.
	HTTPClient *http.Client
	// AllowInsecure allows an http:// endpoint on a host that is not
	// loopback. Loopback hosts (127.0.0.0/8, ::1, localhost) are always
	// allowed. False refuses such URLs in the constructor.
	AllowInsecure bool
	// MaxResponseSize caps the bytes read from a response. Zero means
	// DefaultMaxTokenResponse (64 KiB).
	MaxResponseSize int64
}

type sourceHTTP struct {
	client  *atomic.Pointer[http.Client]
	maxResp int64
	// own is true when the user gave no HTTPClient: the source then
	// adopts the transport of the first Client it serves (useTransport).
	own     bool
	adopted *atomic.Bool
}

// noRedirect keeps a token request at the URL it was meant for.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// useTransport makes the source send its token requests over rt, the base
// transport of the Client it serves, unless the user gave the source an
// HTTPClient of its own or an earlier Client already lent it one: a TLS
// setup (a private CA, a proxy, a test server's certificate) made once in
// ClientOptions.Base then holds for the token endpoint too.
func (s sourceHTTP) useTransport(rt http.RoundTripper) {
	if !s.own || rt == nil || !s.adopted.CompareAndSwap(false, true) {
		return
	}
	s.client.Store(&http.Client{Timeout: 30 * time.Second, Transport: rt, CheckRedirect: noRedirect})
}

// transportUser is implemented by credentials and token sources that can
// send their own requests over the transport of the Client they serve.
type transportUser interface {
	useTransport(http.RoundTripper)
}

func (e *TokenEndpoint) useTransport(rt http.RoundTripper) { e.http.useTransport(rt) }
func (s *LoginSource) useTransport(rt http.RoundTripper)   { s.http.useTransport(rt) }

// useTransport lends rt to the cache's source, if it can use one.
func (c *TokenCache) useTransport(rt http.RoundTripper) {
	if u, ok := c.src.(transportUser); ok {
		u.useTransport(rt)
	}
}

func newSourceHTTP(opts *SourceOptions) sourceHTTP {
	var o SourceOptions
	if opts != nil {
		o = *opts
	}
	var cl http.Client
	if o.HTTPClient != nil {
		cl = *o.HTTPClient
	} else {
		cl = http.Client{Timeout: 30 * time.Second, Transport: transport.NewBase()}
	}
	cl.CheckRedirect = noRedirect
	if o.MaxResponseSize <= 0 {
		o.MaxResponseSize = DefaultMaxTokenResponse
	}
	s := sourceHTTP{client: new(atomic.Pointer[http.Client]), maxResp: o.MaxResponseSize, own: o.HTTPClient == nil, adopted: new(atomic.Bool)}
	s.client.Store(&cl)
	return s
}

// checkEndpoint validates the URL of a token endpoint: absolute, https, or
// http to loopback or with allowInsecure. The error never contains the query
// string or user info.
func checkEndpoint(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errkind.Errorf("apiauth: invalid endpoint URL: %w", errkind.InvalidConfig)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errkind.Errorf("apiauth: endpoint URL %q must be absolute http(s): %w", u.Redacted(), errkind.InvalidConfig)
	}
	if u.Scheme == "http" && !allowInsecure && !hostcheck.Loopback(u.Hostname()) {
		return nil, errkind.Errorf("apiauth: endpoint %s://%s: %w", u.Scheme, u.Host, errkind.InsecureTransport)
	}
	return u, nil
}

// joinPath appends p to the path of base, keeping base's path (an API
// mounted under a prefix) and dropping its query.
func joinPath(base *url.URL, p string) *url.URL {
	u := *base
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(p, "/")
	u.RawPath = ""
	return &u
}

// postJSON sends body as JSON to u and decodes a 2xx answer into out. An
// answer of 400 or more becomes the error CheckResponse returns for it, with
// the secrets of the body (secrets: the user id, password or refresh token
// it carries) scrubbed from it; any other answer that is not 2xx becomes an
// [*Error] with its status and no body.
func (s sourceHTTP) postJSON(ctx context.Context, u *url.URL, body, out any, secrets ...string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return errkind.Errorf("apiauth: encoding token request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return errkind.Errorf("apiauth: building token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Load().Do(req)
	if err != nil {
		// url.Error carries the URL, never the body; drop the query anyway.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return errkind.Errorf("apiauth: POST %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp, DefaultMaxErrorBody, secrets); err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// A token answer is a 2xx answer. A 3xx (redirects are not
		// followed), a 304 or a stray 1xx is refused whatever its body
		// holds, and the body, which may hold a token, is not kept.
		apiErr := &Error{StatusCode: resp.StatusCode, Method: req.Method, Path: redactURLPath(u.EscapedPath()), RequestID: requestID(resp.Header)}
		return errkind.Errorf("apiauth: token endpoint %s answered %d, want 2xx: %w", u.Path, resp.StatusCode, apiErr)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.maxResp+1))
	if err != nil {
		return errkind.Errorf("apiauth: reading token response from %s: %w", u.Path, err)
	}
	if int64(len(data)) > s.maxResp {
		return errkind.Errorf("apiauth: token response from %s larger than %d bytes", u.Path, s.maxResp)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errkind.Errorf("apiauth: decoding token response from %s: %w", u.Path, describeJSONError(err))
	}
	return nil
}

// describeJSONError keeps a JSON error's shape but never the bytes that
// caused it, which could be a token. The *json.SyntaxError or
// *json.UnmarshalTypeError stays reachable with errors.As, and a body that
// ends early matches io.ErrUnexpectedEOF.
func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &quietError{fmt.Sprintf("invalid JSON at offset %d", se.Offset), se}
	case errors.As(err, &te):
		return &quietError{fmt.Sprintf("field %q has JSON type %s, want %s", te.Field, te.Value, te.Type), te}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("truncated JSON: %w", io.ErrUnexpectedEOF)
	}
	return errors.New("invalid JSON")
}

// quietError has a message of its own and unwraps to a cause whose message
// it does not repeat (a JSON error may quote the body).
type quietError struct {
	msg   string
	cause error
}

func (e *quietError) Error() string { return e.msg }
func (e *quietError) Unwrap() error { return e.cause }

// TokenEndpoint is the Artos token source: POST /get-access-token with
// {"user_id": …} returns {"access_token": …} and no lifetime. The expiry is
// read from the JWT's exp claim (skew-corrected with iat). It is safe for
// concurrent use. The user id is the credential: it prints redacted.
type TokenEndpoint struct {
	url *url.URL
	// user holds the user id behind a pointer, so that fmt printing a
	// struct that holds the source shows an address, never the id.
	user *secretBox
	http sourceHTTP
}

// NewTokenEndpoint returns a source that fetches tokens for userID from
// tokenURL, the full URL of the endpoint (for example
// "https://api.artosai.com/get-access-token"). opts may be nil.
func NewTokenEndpoint(tokenURL, userID string, opts *SourceOptions) (*TokenEndpoint, error) {
	if userID == "" {
		return nil, &CredentialError{Source: "user_id", Reason: "is empty"}
	}
	u, err := checkEndpoint(tokenURL, opts != nil && opts.AllowInsecure)
	if err != nil {
		return nil, err
	}
	return &TokenEndpoint{url: u, user: newBox(userID, ""), http: newSourceHTTP(opts)}, nil
}

// String describes the source with the user id redacted.
func (e *TokenEndpoint) String() string {
	if e == nil {
		return "apiauth.TokenEndpoint(nil)"
	}
	return "apiauth.TokenEndpoint{url: " + strconv.Quote(e.url.Redacted()) +
		", user_id: " + strconv.Quote(redact.Secret(e.user.secret, "")) + "}"
}

// goString returns, for %#v, the same redacted form as String.
func (e *TokenEndpoint) goString() string { return e.String() }

// Format prints the source redacted under every verb.
func (e *TokenEndpoint) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, e.String(), e.goString())
}

// Token fetches a new token. Its Expiry comes from the JWT claims; it is
// zero when the token carries no usable exp.
func (e *TokenEndpoint) Token(ctx context.Context) (*Token, error) {
	var out accessTokenResponse
	if err := e.http.postJSON(ctx, e.url, artosTokenRequest(e.user.secret), &out, e.user.secret); err != nil {
		return nil, err
	}
	return out.token(e.url.Path, time.Now())
}

// artosTokenRequest is the body of Artos' POST /get-access-token.
func artosTokenRequest(userID string) map[string]string {
	return map[string]string{"user_id": userID}
}

// accessTokenResponse is Artos' token answer: {"access_token": …} and
// possibly a token_type, with no lifetime.
type accessTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
}

// token builds the Token of an answer from path received at the local time
// received; its Expiry comes from the JWT claims, zero when unknown.
func (r *accessTokenResponse) token(path string, received time.Time) (*Token, error) {
	if r.AccessToken == "" {
		return nil, errkind.Errorf("apiauth: token response from %s has no access_token", path)
	}
	tok := &Token{AccessToken: r.AccessToken, TokenType: r.TokenType}
	if err := checkTokenHeader(tok, "token response from "+path); err != nil {
		return nil, err
	}
	if exp, ok := tokenExpiry(tok, received, 0); ok {
		tok.Expiry = exp
	}
	return tok, nil
}

// Login holds the credentials of an AudiModal login. The password prints
// redacted under fmt, encoding/json and log/slog.
type Login struct {
	Email    string
	Password string
	TenantID string
}

// String returns the login with the password hidden.
func (l Login) String() string {
	return "apiauth.Login{email: " + strconv.Quote(l.Email) + ", password: " +
		strconv.Quote(redact.Mask) + ", tenant: " + strconv.Quote(l.TenantID) + "}"
}

// goString returns, for %#v, the same redacted form as String.
func (l Login) goString() string { return l.String() }

// Format prints the login redacted under every verb.
func (l Login) Format(f fmt.State, verb rune) { formatRedacted(f, verb, l.String(), l.goString()) }

// MarshalJSON encodes the login with the password hidden.
func (l Login) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"email": l.Email, "password": redact.Mask, "tenant_id": l.TenantID})
}

// LogValue logs the login with the password hidden.
func (l Login) LogValue() slog.Value {
	return slog.GroupValue(slog.String("email", l.Email), slog.String("tenant_id", l.TenantID))
}

// LoginSource is the AudiModal token source: POST /v1/auth/login with email,
// password and tenant_id, and POST /v1/auth/refresh with a refresh token.
// RenewToken uses the refresh token first and falls back to a full login
// when it is rejected (expired, revoked, already used). Every refresh token
// is treated as single-use. It is safe for concurrent use: concurrent
// renewals of the same token make one refresh call. It prints with the
// password and refresh tokens hidden.
type LoginSource struct {
	// login and spentFrom sit behind pointers, so that fmt printing a
	// struct that holds the source shows addresses, never the secrets.
	login      *Login
	loginURL   *url.URL
	refreshURL *url.URL
	http       sourceHTTP

	mu sync.Mutex
	// spent maps refresh tokens this source has used to the token that
	// replaced them, so a second renewal of the same token returns the
	// replacement instead of presenting a spent refresh token.
	spentFrom *secretBox
	spentTo   *Token
}

// NewLoginSource returns a source that logs in to the AudiModal API at
// baseURL (for example "https://api.audimodal.ai"; the paths /v1/auth/login
// and /v1/auth/refresh are joined to it, keeping any path prefix). opts may
// be nil.
func NewLoginSource(baseURL string, login Login, opts *SourceOptions) (*LoginSource, error) {
	if err := login.check(); err != nil {
		return nil, err
	}
	u, err := checkEndpoint(baseURL, opts != nil && opts.AllowInsecure)
	if err != nil {
		return nil, err
	}
	return &LoginSource{
		login:      &login,
		loginURL:   joinPath(u, "v1/auth/login"),
		refreshURL: joinPath(u, "v1/auth/refresh"),
		http:       newSourceHTTP(opts),
	}, nil
}

// check refuses a login without email or password.
func (l Login) check() error {
	if l.Email == "" {
		return &CredentialError{Source: "login email", Reason: "is empty"}
	}
	if l.Password == "" {
		return &CredentialError{Source: "login password", Reason: "is empty"}
	}
	return nil
}

// body is the JSON body of POST /v1/auth/login. Login's own MarshalJSON
// hides the password, so the wire form is built here.
func (l Login) body() map[string]string {
	return map[string]string{"email": l.Email, "password": l.Password, "tenant_id": l.TenantID}
}

// refreshBody is the JSON body of POST /v1/auth/refresh.
func refreshBody(refreshToken string) map[string]string {
	return map[string]string{"refresh_token": refreshToken}
}

// String describes the source with the password hidden.
func (s *LoginSource) String() string {
	if s == nil {
		return "apiauth.LoginSource(nil)"
	}
	return "apiauth.LoginSource{url: " + strconv.Quote(s.loginURL.Redacted()) + ", login: " + s.login.String() + "}"
}

// goString returns, for %#v, the same redacted form as String.
func (s *LoginSource) goString() string { return s.String() }

// Format prints the source redacted under every verb.
func (s *LoginSource) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, s.String(), s.goString())
}

type loginResponse struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.Number     `json:"expires_in"`
	User         json.RawMessage `json:"user"`
}

func (r *loginResponse) token(path string, received time.Time) (*Token, error) {
	if r.AccessToken == "" {
		return nil, errkind.Errorf("apiauth: token response from %s has no access_token", path)
	}
	tok := &Token{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, TokenType: r.TokenType}
	if err := checkTokenHeader(tok, "token response from "+path); err != nil {
		return nil, err
	}
	if r.ExpiresIn != "" {
		// Past ten years the figure is nonsense (and would overflow a
		// Duration further on): treat it as unknown.
		if secs, err := r.ExpiresIn.Int64(); err == nil && secs > 0 && secs < 10*365*24*3600 {
			tok.Expiry = received.Add(time.Duration(secs) * time.Second)
		}
	}
	if tok.Expiry.IsZero() {
		if exp, ok := tokenExpiry(tok, received, 0); ok {
			tok.Expiry = exp
		}
	}
	if len(r.User) > 0 && string(r.User) != "null" {
		var user map[string]any
		if json.Unmarshal(r.User, &user) == nil {
			tok.Extra = map[string]any{"user": user}
		} else {
			// Not an object: kept as it came, for a typed reader (the
			// audimodal package) to refuse; the token itself is fine.
			tok.Extra = map[string]any{"user": r.User}
		}
	}
	return tok, nil
}

// Token logs in and returns the new token with its refresh token.
func (s *LoginSource) Token(ctx context.Context) (*Token, error) {
	var out loginResponse
	if err := s.http.postJSON(ctx, s.loginURL, s.login.body(), &out, s.login.Password); err != nil {
		return nil, err
	}
	return out.token(s.loginURL.Path, time.Now())
}

// RenewToken renews prev with its refresh token, falling back to a full
// login when prev has none or the server rejects it (400, 401 or 403). A
// refresh answer without a new refresh token keeps prev's.
func (s *LoginSource) RenewToken(ctx context.Context, prev *Token) (*Token, error) {
	if prev == nil || prev.RefreshToken == "" {
		return s.Token(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spentFrom != nil && s.spentFrom.secret == prev.RefreshToken && s.spentTo != nil {
		// Already renewed by this source: never present a spent token.
		return s.spentTo, nil
	}
	var out loginResponse
	err := s.http.postJSON(ctx, s.refreshURL, refreshBody(prev.RefreshToken), &out, prev.RefreshToken)
	var tok *Token
	if err == nil {
		tok, err = out.token(s.refreshURL.Path, time.Now())
		if err == nil && tok.RefreshToken == "" {
			tok.RefreshToken = prev.RefreshToken
		}
	}
	if err != nil {
		var apiErr *Error
		if !errors.As(err, &apiErr) || (apiErr.StatusCode != 400 && apiErr.StatusCode != 401 && apiErr.StatusCode != 403) {
			return nil, err
		}
		// Rejected: the refresh token is spent or revoked. Log in again.
		tok, err = s.Token(ctx)
		if err != nil {
			return nil, err
		}
	}
	s.spentFrom, s.spentTo = newBox(prev.RefreshToken, ""), tok
	return tok, nil
}

// FromOAuth2 adapts a golang.org/x/oauth2 token source to [TokenSource], so
// a [TokenCache] can sit in front of it. A zero oauth2 expiry becomes an
// unknown expiry.
//
// oauth2's Token takes no context, so the adapter calls it on a goroutine
// of its own and returns as soon as ctx ends, with an error wrapping
// ctx.Err(): a call that blocks (a hung network read inside ts) can then
// not hold up the caller, nor [TokenCache.Close]. The abandoned call goes
// on until ts returns; the adapter makes no other call to ts meanwhile (a
// later Token joins the call in flight), so a hung ts costs one goroutine,
// not one per refresh, and ts is never called concurrently.
func FromOAuth2(ts oauth2.TokenSource) TokenSource {
	return &oauth2Adapter{ts: ts}
}

// oauth2Adapter is the [TokenSource] FromOAuth2 returns.
type oauth2Adapter struct {
	ts   oauth2.TokenSource
	mu   sync.Mutex
	call *oauth2Call // the call to ts in flight, nil when none
}

// oauth2Call is one call to an oauth2.TokenSource; done closes when tok
// and err are set.
type oauth2Call struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// Token returns the result of a call to the oauth2 source, or an error
// wrapping ctx.Err() once ctx ends.
func (a *oauth2Adapter) Token(ctx context.Context) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, errkind.Errorf("apiauth: oauth2 token source: %w", err)
	}
	a.mu.Lock()
	c := a.call
	if c == nil {
		c = &oauth2Call{done: make(chan struct{})}
		a.call = c
		go func() {
			defer close(c.done)
			defer func() {
				a.mu.Lock()
				a.call = nil
				a.mu.Unlock()
			}()
			c.tok, c.err = a.ts.Token()
		}()
	}
	a.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, errkind.Errorf("apiauth: oauth2 token source: %w", ctx.Err())
	}
	if c.err != nil {
		return nil, errkind.Errorf("apiauth: oauth2 token source: %w", c.err)
	}
	if c.tok == nil {
		return nil, errkind.New("apiauth: oauth2 token source returned no token")
	}
	t := c.tok
	return &Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry}, nil
}

// String names the adapter; it prints nothing of the source's state.
func (a *oauth2Adapter) String() string {
	return fmt.Sprintf("apiauth.FromOAuth2(%T)", a.ts)
}

// OAuth2 returns the cache as a golang.org/x/oauth2 TokenSource, for
// oauth2.Transport, oauth2.NewClient and libraries that take one. Each call
// to its Token uses ctx (context.Background() when nil) for waits. As with
// oauth2.ReuseTokenSource, callers share the *oauth2.Token it returns and
// must not modify it: while the cached token is unchanged, Token returns the
// same value without allocating.
func (c *TokenCache) OAuth2(ctx context.Context) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &oauth2Source{c: c, ctx: ctx}
}

type oauth2Source struct {
	c   *TokenCache
	ctx context.Context
}

func (s *oauth2Source) Token() (*oauth2.Token, error) {
	e, err := s.c.entry(s.ctx)
	if err != nil {
		return nil, err
	}
	if o := e.oauth2.Load(); o != nil {
		return o, nil
	}
	t := e.tok
	// oauth2 treats a token as expired 10 s before Expiry; ours are never
	// served inside their margin, so the expiry passes through unchanged.
	o := &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.Type(), RefreshToken: t.RefreshToken, Expiry: t.Expiry}
	if !e.oauth2.CompareAndSwap(nil, o) {
		o = e.oauth2.Load()
	}
	return o, nil
}
