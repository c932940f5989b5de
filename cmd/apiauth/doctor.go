package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/internal/jwtclaims"
	"github.com/apiauth/apiauth/internal/redact"
	"github.com/apiauth/apiauth/transport"
	"github.com/apiauth/apiauth/voltasis"
)

// The environment variables the doctor reads besides the SDK's Env*
// constants.
const (
	envArtosUserID       = "ARTOS_USER_ID"
	envArtanisOrgSlug    = "ARTANIS_ORG_SLUG"
	envAudiModalEmail    = "AUDIMODAL_EMAIL"
	envAudiModalPassword = "AUDIMODAL_PASSWORD"
	envAudiModalTenantID = "AUDIMODAL_TENANT_ID"
)

// skewWarning is the clock difference past which the doctor warns.
const skewWarning = 5 * time.Second

// config is the parsed command line of apiauth doctor.
type config struct {
	family  string
	baseURL string
	project string
	env     string
	login   bool
	json    bool
	fake    bool
	timeout time.Duration
}

// parseDoctor parses the arguments after "doctor". It returns the exit code
// to stop with, or -1 to go on.
func parseDoctor(args []string, stderr io.Writer) (config, int) {
	var cfg config
	fs := flag.NewFlagSet("apiauth doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.baseURL, "base-url", "", "")
	fs.StringVar(&cfg.project, "project", "", "")
	fs.StringVar(&cfg.env, "env", "", "")
	fs.BoolVar(&cfg.login, "login", false, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&cfg.fake, "fake", false, "")
	fs.DurationVar(&cfg.timeout, "timeout", 20*time.Second, "")
	fail := func(format string, a ...any) (config, int) {
		fmt.Fprintf(stderr, "apiauth doctor: "+format+"\n\n%s", append(a, usage)...)
		return cfg, exitUsage
	}
	// The family may come before or after the flags.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cfg.family, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return cfg, exitOK
		}
		return fail("%v", err)
	}
	rest := fs.Args()
	if cfg.family == "" && len(rest) > 0 {
		cfg.family, rest = rest[0], rest[1:]
		if err := fs.Parse(rest); err != nil {
			return fail("%v", err)
		}
		rest = fs.Args()
	}
	switch {
	case cfg.family == "":
		return fail("no family given")
	case len(rest) > 0:
		return fail("unexpected argument %q", rest[0])
	}
	switch cfg.family {
	case "artos", "artanis", "voltasis", "audimodal":
	default:
		return fail("unknown family %q (want artos, artanis, voltasis or audimodal)", cfg.family)
	}
	switch cfg.env {
	case "", "test", "production":
	default:
		return fail("--env must be test or production, not %q", cfg.env)
	}
	if cfg.timeout <= 0 {
		return fail("--timeout must be positive")
	}
	if cfg.fake && cfg.baseURL != "" {
		return fail("--fake and --base-url exclude each other")
	}
	if cfg.family == "artanis" && cfg.project == "" {
		if !cfg.fake {
			return fail("artanis needs --project (the project whose prompts to read)")
		}
		cfg.project = apiauthtest.ArtanisProjectSlug
	}
	return cfg, -1
}

// report is what the doctor found; --json prints it as it is.
type report struct {
	Family     string     `json:"family"`
	Fake       bool       `json:"fake"`
	BaseURL    string     `json:"base_url"`
	Endpoints  []string   `json:"endpoints,omitempty"`
	Credential *credInfo  `json:"credential,omitempty"`
	Identity   *identity  `json:"identity,omitempty"`
	Token      *tokenInfo `json:"token,omitempty"`
	ClockSkew  *clockSkew `json:"clock_skew,omitempty"`
	RateLimit  *rateLimit `json:"rate_limit,omitempty"`
	Status     int        `json:"status,omitempty"`
	RequestID  string     `json:"request_id,omitempty"`
	Warnings   []string   `json:"warnings,omitempty"`
	OK         bool       `json:"ok"`
	Outcome    string     `json:"outcome"`
	ExitCode   int        `json:"exit_code"`
	Error      *errorInfo `json:"error,omitempty"`
	customURL  bool       // --base-url was given
	start      time.Time  // for the elapsed time
	elapsed    time.Duration
}

// credInfo describes the credential, redacted.
type credInfo struct {
	Source   string `json:"source"`
	Kind     string `json:"kind"`
	Redacted string `json:"redacted"`
	Mode     string `json:"mode,omitempty"`
}

// identity is who the credential is and what it acts on.
type identity struct {
	User       string `json:"user,omitempty"`
	Email      string `json:"email,omitempty"`
	Role       string `json:"role,omitempty"`
	TenantKind string `json:"tenant_kind"`
	Tenant     string `json:"tenant,omitempty"`
	TenantName string `json:"tenant_name,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// tokenInfo is the token's lifetime, or a note on why there is none.
type tokenInfo struct {
	Kind             string     `json:"kind"`
	IssuedAt         *time.Time `json:"issued_at,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	LifetimeSeconds  int64      `json:"lifetime_seconds,omitempty"`
	RemainingSeconds *int64     `json:"remaining_seconds,omitempty"`
	Note             string     `json:"note,omitempty"`
}

// clockSkew compares the local clock with the server's Date header.
type clockSkew struct {
	ServerDate  time.Time `json:"server_date"`
	SkewSeconds int64     `json:"skew_seconds"`
	Note        string    `json:"note"`
}

// rateLimit is the headroom the last answer reported.
type rateLimit struct {
	Reported  bool       `json:"reported"`
	Limit     *int64     `json:"limit,omitempty"`
	Remaining *int64     `json:"remaining,omitempty"`
	Reset     *time.Time `json:"reset,omitempty"`
}

// errorInfo is the typed error of a failed check.
type errorInfo struct {
	Message           string     `json:"message"`
	Matches           []string   `json:"matches,omitempty"`
	Status            int        `json:"status,omitempty"`
	Code              string     `json:"code,omitempty"`
	Detail            string     `json:"detail,omitempty"`
	RequiredRole      string     `json:"required_role,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
	RetryAfterSeconds float64    `json:"retry_after_seconds,omitempty"`
	Reset             *time.Time `json:"reset,omitempty"`
	RequestID         string     `json:"request_id,omitempty"`
	Remedy            *remedy    `json:"remedy,omitempty"`
}

// env reads the family's variables: the environment, or with --fake the
// fake's seeded value for a variable that is unset.
type env struct {
	lookup func(string) (string, bool)
	fake   bool
}

// get returns the variable's value and where it came from; ok is false
// when it is unset (or empty) and has no seeded value.
func (e env) get(name, seeded string) (value, source string, ok bool) {
	if v, set := e.lookup(name); set && v != "" {
		return v, "environment variable " + name, true
	}
	if e.fake && seeded != "" {
		return seeded, "the fake's seeded " + name, true
	}
	return "", "", false
}

// set reports whether the variable is set and not empty.
func (e env) set(name string) bool {
	v, ok := e.lookup(name)
	return ok && v != ""
}

// unset reports variables that are all needed and not set.
func unset(names ...string) error {
	if len(names) == 1 {
		return &apiauth.CredentialError{Source: "environment variable " + names[0], Reason: "is not set", Unset: true}
	}
	return &apiauth.CredentialError{Source: "environment variables " + strings.Join(names, " and "), Reason: "are not set", Unset: true}
}

// neither reports alternatives of which none is set.
func neither(alternatives ...string) error {
	return &apiauth.CredentialError{Source: "environment variable " + strings.Join(alternatives, " or "), Reason: "is not set", Unset: true}
}

// observation is what the recorder saw of the last answer.
type observation struct {
	sent, received time.Time
	date           string
	status         int
	requestID      string
	rl             transport.RateLimit
	seen           bool
}

// recorder is the base RoundTripper: it notes the time, Date header, status,
// request id and rate-limit headers of every answer.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	last observation
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	o := observation{sent: sent, received: time.Now(), date: resp.Header.Get("Date"), status: resp.StatusCode, seen: true}
	for _, h := range []string{"X-Request-Id", "Request-Id", "X-Correlation-Id"} {
		if v := resp.Header.Get(h); v != "" {
			o.requestID = v
			break
		}
	}
	o.rl, _ = transport.RateLimitFromResponse(resp)
	r.mu.Lock()
	r.last = o
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) observed() observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// checker runs one family's check.
type checker struct {
	cfg    config
	env    env
	rep    *report
	opts   *apiauth.ClientOptions
	rec    *recorder
	stderr io.Writer
}

// progress tells the user what the doctor waits for.
func (c *checker) progress(endpoint string) {
	c.rep.Endpoints = append(c.rep.Endpoints, endpoint)
	fmt.Fprintf(c.stderr, "checking %s %s …\n", c.cfg.family, endpoint)
}

func (c *checker) warn(format string, a ...any) {
	c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf(format, a...))
}

func doctor(ctx context.Context, cfg config, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	rep := &report{Family: cfg.family, Fake: cfg.fake, BaseURL: cfg.baseURL, customURL: cfg.baseURL != "", start: time.Now()}
	c := &checker{cfg: cfg, env: env{lookup: lookup, fake: cfg.fake}, rep: rep, stderr: stderr}
	var base http.RoundTripper = transport.NewBase()
	if cfg.fake {
		srv := apiauthtest.Start(apiauthtest.Config{})
		defer srv.Close()
		rep.BaseURL = srv.URL(apiauthtest.Family(cfg.family))
		base = srv.Client().Transport
	} else if rep.BaseURL == "" {
		rep.BaseURL = map[string]string{
			"artos": artos.BaseURL, "artanis": artanis.BaseURL,
			"voltasis": voltasis.BaseURL, "audimodal": audimodal.BaseURL,
		}[cfg.family]
	}
	c.rec = &recorder{base: base}
	// One attempt: the doctor reports what the server says, it does not
	// wait a rate limit or a 5xx out.
	c.opts = &apiauth.ClientOptions{Base: c.rec, Timeout: cfg.timeout, Retry: transport.RetryOptions{MaxAttempts: 1}}

	err := checkBaseURL(c)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		switch cfg.family {
		case "artos":
			err = c.artos(ctx)
		case "artanis":
			err = c.artanis(ctx)
		case "voltasis":
			err = c.voltasis(ctx)
		case "audimodal":
			err = c.audimodal(ctx)
		}
	}
	c.finish(err)
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printText(stdout, rep)
	}
	return rep.ExitCode
}

// insecureError is a base URL that would carry the credential in clear.
type insecureError struct{ host string }

func (e *insecureError) Error() string {
	return "base URL is plain http:// to " + e.host + ": the credential would travel unencrypted (apiauth refuses it)"
}
func (e *insecureError) Unwrap() error { return apiauth.ErrInsecureTransport }

// checkBaseURL refuses a base URL that is not HTTPS (plain http to a
// loopback host is only a warning: a local fake or proxy).
func checkBaseURL(c *checker) error {
	u, err := url.Parse(c.rep.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		// Not quoted: a URL that does not parse may still hold a secret.
		c.rep.BaseURL = "(not shown)"
		return fmt.Errorf("the base URL is not an absolute https:// URL: %w", apiauth.ErrInvalidConfig)
	}
	// Shown and used without userinfo, query or fragment, as the SDK
	// uses it: they may hold a secret.
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		c.warn("the base URL's userinfo, query or fragment is ignored (and not shown)")
		u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	}
	c.rep.BaseURL = u.String()
	if u.Scheme == "http" {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			c.warn("base URL is plain http:// (allowed to a loopback host only)")
			return nil
		}
		return &insecureError{host: u.Host}
	}
	return nil
}

// finish records the outcome of err.
func (c *checker) finish(err error) {
	rep := c.rep
	rep.elapsed = time.Since(rep.start)
	o := c.rec.observed()
	if o.seen {
		rep.Status, rep.RequestID = o.status, o.requestID
		rep.RateLimit = &rateLimit{Reported: o.rl.Present}
		if o.rl.Present {
			if o.rl.Limit >= 0 {
				rep.RateLimit.Limit = &o.rl.Limit
			}
			if o.rl.Remaining >= 0 {
				rep.RateLimit.Remaining = &o.rl.Remaining
			}
			if !o.rl.Reset.IsZero() {
				t := o.rl.Reset.UTC()
				rep.RateLimit.Reset = &t
			}
			if o.rl.Limit > 0 && o.rl.Remaining >= 0 && o.rl.Remaining*10 < o.rl.Limit {
				c.warn("rate limit nearly spent: %d of %d requests left in the window", o.rl.Remaining, o.rl.Limit)
			}
		}
		if d, perr := http.ParseTime(o.date); perr == nil {
			// Date is truncated to the second: the server's clock was in
			// [Date, Date+1s) when it answered, halfway through the
			// round trip.
			mid := o.sent.Add(o.received.Sub(o.sent) / 2)
			skew := d.Add(500 * time.Millisecond).Sub(mid).Round(time.Second)
			rep.ClockSkew = &clockSkew{ServerDate: d.UTC(), SkewSeconds: int64(skew / time.Second)}
			switch {
			case skew.Abs() <= time.Second:
				rep.ClockSkew.Note = "in sync (within the Date header's 1 s resolution)"
			case skew > 0:
				rep.ClockSkew.Note = "the server's clock is ahead of this machine's"
			default:
				rep.ClockSkew.Note = "the server's clock is behind this machine's"
			}
			if skew.Abs() >= skewWarning {
				c.warn("clock skew of %s against the server: sync this machine's clock (NTP); token expiries below are the server's", skew)
			}
			if rep.Token != nil && rep.Token.ExpiresAt != nil {
				// Remaining life on the server's clock.
				left := int64(rep.Token.ExpiresAt.Sub(time.Now().Add(skew)) / time.Second)
				rep.Token.RemainingSeconds = &left
			}
		}
	}
	if rep.Token != nil && rep.Token.ExpiresAt != nil && rep.Token.RemainingSeconds == nil {
		left := int64(time.Until(*rep.Token.ExpiresAt) / time.Second)
		rep.Token.RemainingSeconds = &left
	}
	if err == nil {
		rep.OK, rep.Outcome, rep.ExitCode = true, "ok", exitOK
		return
	}
	rep.ExitCode, rep.Outcome = classify(err)
	ei := &errorInfo{Message: err.Error(), Matches: matches(err)}
	var apiErr *apiauth.Error
	if errors.As(err, &apiErr) {
		ei.Status, ei.Code, ei.Detail, ei.RequiredRole, ei.RequestID = apiErr.StatusCode, apiErr.Code, apiErr.Detail, apiErr.RequiredRole, apiErr.RequestID
		if !apiErr.ExpiresAt.IsZero() {
			t := apiErr.ExpiresAt.UTC()
			ei.ExpiresAt = &t
		}
		ei.RetryAfterSeconds = apiErr.RetryAfter.Seconds()
	}
	var rl *apiauth.RateLimitError
	if errors.As(err, &rl) {
		if !rl.Reset.IsZero() {
			t := rl.Reset.UTC()
			ei.Reset = &t
		}
		if rl.RetryAfter > 0 {
			ei.RetryAfterSeconds = rl.RetryAfter.Seconds()
		}
	}
	if ei.Status == 0 && o.seen && o.status >= 400 {
		ei.Status = o.status
	}
	var insecure *insecureError
	var cred *apiauth.CredentialError
	switch {
	case errors.As(err, &insecure):
		ei.Remedy = remedyInsecure(c.cfg.family)
	case errors.As(err, &cred):
		ei.Remedy = &remedy{Source: "apiauth doctor usage", Steps: []string{
			"Set the family's documented variables (see apiauth doctor --help): " + variables(c.cfg.family) + ".",
			"Keys hold visible ASCII only: no spaces, quotes or trailing newline (export VAR=\"$(cat file)\" keeps none).",
		}}
	default:
		ei.Remedy = remedyFor(c.cfg.family, err)
		if ei.Remedy == nil && apiErr == nil && rl == nil {
			ei.Remedy = &remedy{Source: "apiauth doctor", Steps: []string{
				"No usable answer from the server: check the base URL, DNS, proxy and firewall, and the provider's status page.",
				"--timeout bounds the whole check (default 20s).",
			}}
		}
	}
	rep.Error = ei
}

// variables names the family's variables, for the remedy of a missing one.
func variables(family string) string {
	switch family {
	case "artos":
		return artos.EnvToken + " or " + envArtosUserID
	case "artanis":
		return artanis.EnvAPIKey + " and " + envArtanisOrgSlug
	case "voltasis":
		return voltasis.EnvAPIKey
	}
	return audimodal.EnvAPIKey + ", or " + envAudiModalEmail + ", " + envAudiModalPassword + " and " + envAudiModalTenantID
}

// classify maps err to an exit code and an outcome name.
func classify(err error) (int, string) {
	switch {
	case errors.Is(err, apiauth.ErrInvalidCredential), errors.Is(err, apiauth.ErrInsecureTransport), errors.Is(err, apiauth.ErrInvalidConfig):
		return exitCredential, "credential"
	case errors.Is(err, apiauth.ErrRateLimited):
		return exitRateLimit, "rate_limited"
	case errors.Is(err, apiauth.ErrUnauthorized), errors.Is(err, apiauth.ErrForbidden):
		return exitRefused, "refused"
	}
	return exitOther, "other"
}

// matches lists the SDK sentinels err matches.
func matches(err error) []string {
	var out []string
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrUnauthorized", apiauth.ErrUnauthorized},
		{"ErrInvalidAPIKey", apiauth.ErrInvalidAPIKey},
		{"ErrTokenExpired", apiauth.ErrTokenExpired},
		{"ErrForbidden", apiauth.ErrForbidden},
		{"ErrInsufficientPermissions", apiauth.ErrInsufficientPermissions},
		{"ErrRateLimited", apiauth.ErrRateLimited},
		{"ErrNotFound", apiauth.ErrNotFound},
		{"ErrServer", apiauth.ErrServer},
		{"ErrInvalidCredential", apiauth.ErrInvalidCredential},
		{"ErrInvalidConfig", apiauth.ErrInvalidConfig},
		{"ErrInsecureTransport", apiauth.ErrInsecureTransport},
		{"context.DeadlineExceeded", context.DeadlineExceeded},
	} {
		if errors.Is(err, s.err) {
			out = append(out, s.name)
		}
	}
	return out
}

// claims reads string claims of a JWT without verifying it: for display
// only.
func claims(token string) map[string]string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > jwtclaims.DefaultMaxLen {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var raw map[string]any
	if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	out := make(map[string]string)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// jwtToken describes a token's lifetime from its claims, or from expiry
// (the SDK's, from expires_in) when the claims have none.
func jwtToken(kind, access string, expiry time.Time) *tokenInfo {
	t := &tokenInfo{Kind: kind}
	exp, iat := jwtclaims.Times(access, 0)
	if !iat.IsZero() {
		iat = iat.UTC()
		t.IssuedAt = &iat
	}
	if exp.IsZero() {
		exp = expiry
	}
	if !exp.IsZero() {
		exp = exp.UTC()
		t.ExpiresAt = &exp
		if !iat.IsZero() {
			t.LifetimeSeconds = int64(exp.Sub(iat) / time.Second)
		}
	} else {
		t.Note = "the token carries no expiry"
	}
	return t
}

func (c *checker) artos(ctx context.Context) error {
	client, err := artos.NewClient(c.rep.BaseURL, nil, c.opts)
	if err != nil {
		return err
	}
	var tok apiauth.StaticToken
	if v, src, ok := c.env.get(artos.EnvToken, ""); ok {
		c.rep.Credential = &credInfo{Source: src, Kind: "bearer token"}
		if tok, err = apiauth.NewStaticToken(v); err != nil {
			return &apiauth.CredentialError{Source: src, Reason: credReason(err)}
		}
		c.rep.Credential.Redacted = tok.String()
		c.rep.Token = jwtToken("JWT from "+artos.EnvToken, v, time.Time{})
	} else {
		userID, src, ok := c.env.get(envArtosUserID, apiauthtest.ArtosUserID)
		if !ok {
			return neither(artos.EnvToken, envArtosUserID)
		}
		// The user id is what buys a token: it prints redacted.
		c.rep.Credential = &credInfo{Source: src, Kind: "Artos user id (exchanged for a token)", Redacted: redact.Secret(userID, "")}
		c.progress("POST /get-access-token")
		t, err := client.GetAccessToken(ctx, userID)
		if err != nil {
			if errors.Is(err, apiauth.ErrUnauthorized) {
				c.warn("the token endpoint refused the user id from %s", src)
			}
			return err
		}
		if tok, err = apiauth.NewStaticToken(t.AccessToken); err != nil {
			return err
		}
		c.rep.Token = jwtToken("JWT from POST /get-access-token", t.AccessToken, t.Expiry)
	}
	cl := claims(tok.Secret())
	id := &identity{TenantKind: "organization", Tenant: cl["org_id"]}
	if u := cl["user_id"]; u != "" {
		id.User = redact.Secret(u, "") + " (user id, redacted)"
	} else if u := cl["sub"]; u != "" {
		id.User = redact.Secret(u, "") + " (user id, redacted)"
	}
	c.rep.Identity = id
	switch {
	case cl == nil:
		c.warn("the token is not a JWT: Artos tokens are JWTs carrying the user and organization")
	case id.Tenant == "":
		c.warn("the token names no organization (org_id claim): Artos may answer 403")
	}
	if c.rep.Token.ExpiresAt != nil && !c.rep.Token.ExpiresAt.After(time.Now()) {
		c.warn("the token expired at %s", c.rep.Token.ExpiresAt.Format(time.RFC3339))
	}

	authed, err := artos.NewClient(c.rep.BaseURL, tok, c.opts)
	if err != nil {
		return err
	}
	c.progress("GET /api/v1/search/status")
	st, err := authed.SearchStatus(ctx)
	if err != nil {
		return err
	}
	c.progress("GET /api/v1/templates/")
	tpl, err := authed.ListTemplates(ctx)
	if err != nil {
		return err
	}
	id.Detail = fmt.Sprintf("search status %q; %d templates readable", st.Status, len(tpl))
	return nil
}

// credReason is the reason of a *CredentialError, which never holds the
// secret.
func credReason(err error) string {
	var ce *apiauth.CredentialError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return "is not usable"
}

func (c *checker) artanis(ctx context.Context) error {
	key, src, ok := c.env.get(artanis.EnvAPIKey, apiauthtest.ArtanisAPIKey)
	slug, slugSrc, slugOK := c.env.get(envArtanisOrgSlug, apiauthtest.ArtanisOrgSlug)
	switch {
	case !ok && !slugOK:
		return unset(artanis.EnvAPIKey, envArtanisOrgSlug)
	case !ok:
		return unset(artanis.EnvAPIKey)
	case !slugOK:
		return unset(envArtanisOrgSlug)
	}
	c.rep.Credential = &credInfo{Source: src + " + " + slugSrc, Kind: "x-api-key + x-org-slug header pair"}
	pair, err := apiauth.NewHeaderPair(key, slug)
	if err != nil {
		return &apiauth.CredentialError{Source: src + " or " + slugSrc, Reason: credReason(err)}
	}
	c.rep.Credential.Redacted = pair.String()
	c.rep.Identity = &identity{User: "the API key's holder (Artanis names no user)", TenantKind: "organization", Tenant: slug, TenantName: "x-org-slug"}
	c.rep.Token = &tokenInfo{Kind: "API key", Note: "Artanis reports no expiry for API keys"}
	client, err := artanis.NewClient(c.rep.BaseURL, pair, c.opts)
	if err != nil {
		return err
	}
	c.progress("GET /api/prompts?projectSlug=" + url.QueryEscape(c.cfg.project))
	prompts, err := client.ListPrompts(ctx, c.cfg.project)
	if err != nil {
		return err
	}
	c.rep.Identity.Detail = fmt.Sprintf("%d prompts readable in project %q", len(prompts), c.cfg.project)
	return nil
}

func (c *checker) voltasis(ctx context.Context) error {
	v, src, ok := c.env.get(voltasis.EnvAPIKey, apiauthtest.VoltasisAPIKey)
	if !ok {
		return unset(voltasis.EnvAPIKey)
	}
	c.rep.Credential = &credInfo{Source: src, Kind: "bearer API key"}
	key, err := apiauth.NewStaticToken(v)
	if err != nil {
		return &apiauth.CredentialError{Source: src, Reason: credReason(err)}
	}
	c.rep.Credential.Redacted = key.String()
	c.rep.Token = &tokenInfo{Kind: "API key", Note: "Voltasis API keys do not expire (revoke manually) unless created with expires_at"}
	client, err := voltasis.NewClient(c.rep.BaseURL, key, c.opts)
	if err != nil {
		return err
	}
	c.progress("GET /v1/auth/me")
	me, err := client.Me(ctx)
	if err != nil {
		return err
	}
	c.rep.Identity = &identity{User: me.ID, Email: me.Email, TenantKind: "organization", Tenant: me.Organization.ID, TenantName: me.Organization.Name}
	return nil
}

func (c *checker) audimodal(ctx context.Context) error {
	useLogin := c.cfg.login || (!c.env.set(audimodal.EnvAPIKey) && c.env.set(envAudiModalEmail))
	var cred apiauth.StaticToken
	var login *audimodal.Session
	if useLogin {
		email, esrc, eok := c.env.get(envAudiModalEmail, apiauthtest.AudiModalEmail)
		pass, psrc, pok := c.env.get(envAudiModalPassword, apiauthtest.AudiModalPassword)
		tenant, tsrc, tok := c.env.get(envAudiModalTenantID, apiauthtest.AudiModalTenantID)
		var missing []string
		for _, m := range []struct {
			name string
			ok   bool
		}{{envAudiModalEmail, eok}, {envAudiModalPassword, pok}, {envAudiModalTenantID, tok}} {
			if !m.ok {
				missing = append(missing, m.name)
			}
		}
		if len(missing) > 0 {
			return unset(missing...)
		}
		l := apiauth.Login{Email: email, Password: pass, TenantID: tenant}
		c.rep.Credential = &credInfo{Source: esrc + ", " + psrc + ", " + tsrc, Kind: "login (email, password, tenant)", Redacted: l.String()}
		client, err := audimodal.NewClient(c.rep.BaseURL, nil, c.opts)
		if err != nil {
			return err
		}
		c.progress("POST /v1/auth/login")
		s, err := client.Login(ctx, l)
		if err != nil {
			return err
		}
		login = s
		if cred, err = apiauth.NewStaticToken(s.Token.AccessToken); err != nil {
			return err
		}
		c.rep.Token = jwtToken("session JWT from POST /v1/auth/login", s.Token.AccessToken, s.Token.Expiry)
		if s.Token.RefreshToken != "" {
			c.rep.Token.Note = "renewable with its single-use refresh token (POST /v1/auth/refresh)"
		}
	} else {
		v, src, ok := c.env.get(audimodal.EnvAPIKey, apiauthtest.AudiModalLiveKey)
		if !ok {
			return neither(audimodal.EnvAPIKey, envAudiModalEmail+" (with "+envAudiModalPassword+" and "+envAudiModalTenantID+")")
		}
		c.rep.Credential = &credInfo{Source: src, Kind: "API key"}
		key, err := apiauth.ParseAPIKey(v)
		if err != nil {
			return &apiauth.CredentialError{Source: src, Reason: credReason(err)}
		}
		c.rep.Credential.Redacted, c.rep.Credential.Mode = key.String(), key.Mode().String()
		switch {
		case key.Mode() == apiauth.KeyOpaque:
			c.warn("the key has none of AudiModal's documented prefixes (sk_live_, sk_test_, tk_)")
		case key.Mode() == apiauth.KeyLive && c.cfg.env == "test":
			c.warn("an sk_live_ (production) key with --env=test")
		case key.Mode() == apiauth.KeyTest && c.cfg.env == "production":
			c.warn("an sk_test_ (development) key with --env=production")
		}
		c.rep.Token = &tokenInfo{Kind: "API key (" + key.Mode().String() + ")", Note: "AudiModal reports no expiry for API keys"}
		cred, err = apiauth.NewStaticToken(v)
		if err != nil {
			return err
		}
	}
	client, err := audimodal.NewClient(c.rep.BaseURL, cred, c.opts)
	if err != nil {
		return err
	}
	c.progress("GET /v1/health")
	h, err := client.Health(ctx)
	if err != nil {
		return err
	}
	id := &identity{TenantKind: "tenant", Tenant: h.TenantID, Detail: fmt.Sprintf("%s %s: %s", h.Service, h.Version, h.Status)}
	if login != nil {
		id.User, id.Email, id.Role = login.User.ID, login.User.Email, login.User.Role
	} else {
		id.User = "API key holder (" + c.rep.Credential.Mode + " key)"
	}
	c.rep.Identity = id
	return nil
}

// printText writes the report for people.
func printText(w io.Writer, r *report) {
	line := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-12s %s\n", k, fmt.Sprintf(format, a...)) }
	where := "production API"
	switch {
	case r.Fake:
		where = "built-in fake, offline"
	case r.customURL:
		where = "API at --base-url"
	}
	fmt.Fprintf(w, "apiauth doctor %s (%s)\n", r.Family, where)
	line("base URL", "%s", r.BaseURL)
	if c := r.Credential; c != nil {
		s := c.Kind
		if c.Mode != "" {
			s += ", mode " + c.Mode
		}
		line("credential", "%s: %s (from %s)", s, orNone(c.Redacted), c.Source)
	}
	for _, e := range r.Endpoints {
		line("checked", "%s", e)
	}
	if r.OK {
		line("result", "OK (HTTP %d in %s)", r.Status, r.elapsed.Round(time.Millisecond))
	} else {
		line("result", "FAILED: %s (exit %d)", outcomeText(r.Outcome), r.ExitCode)
	}
	if id := r.Identity; id != nil && r.OK {
		who := id.User
		if id.Email != "" {
			who = strings.TrimSpace(who + " <" + id.Email + ">")
		}
		if id.Role != "" {
			who += ", role " + id.Role
		}
		line("who", "%s", orNone(who))
		t := orNone(id.Tenant)
		if id.TenantName != "" {
			t += " (" + id.TenantName + ")"
		}
		line(id.TenantKind, "%s", t)
		if id.Detail != "" {
			line("found", "%s", id.Detail)
		}
	}
	if t := r.Token; t != nil {
		s := t.Kind
		if t.ExpiresAt != nil {
			s += ", expires " + t.ExpiresAt.Format(time.RFC3339)
			if t.LifetimeSeconds > 0 {
				s += fmt.Sprintf(", lifetime %s", time.Duration(t.LifetimeSeconds)*time.Second)
			}
			if t.RemainingSeconds != nil {
				if *t.RemainingSeconds > 0 {
					s += fmt.Sprintf(", %s left", time.Duration(*t.RemainingSeconds)*time.Second)
				} else {
					s += ", EXPIRED"
				}
			}
		}
		if t.Note != "" {
			s += "; " + t.Note
		}
		line("token", "%s", s)
	}
	if cs := r.ClockSkew; cs != nil {
		line("clock skew", "%+ds against the server's Date %s: %s", cs.SkewSeconds, cs.ServerDate.Format(time.RFC1123), cs.Note)
	}
	if rl := r.RateLimit; rl != nil {
		if !rl.Reported {
			line("rate limit", "not reported by the server")
		} else {
			s := fmt.Sprintf("%s of %s requests left", intOr(rl.Remaining), intOr(rl.Limit))
			if rl.Reset != nil {
				s += ", window resets " + rl.Reset.Format(time.RFC3339)
			}
			line("rate limit", "%s", s)
		}
	}
	if r.RequestID != "" {
		line("request id", "%s", r.RequestID)
	}
	for _, wmsg := range r.Warnings {
		line("warning", "%s", wmsg)
	}
	if e := r.Error; e != nil {
		line("error", "%s", e.Message)
		if e.Status != 0 {
			line("status", "%d %s", e.Status, http.StatusText(e.Status))
		}
		if e.Code != "" {
			line("code", "%s", e.Code)
		}
		if len(e.Matches) > 0 {
			line("matches", "%s", strings.Join(e.Matches, ", "))
		}
		if e.RequiredRole != "" {
			line("needs role", "%s", e.RequiredRole)
		}
		if e.ExpiresAt != nil {
			line("expired at", "%s", e.ExpiresAt.Format(time.RFC3339))
		}
		if e.RetryAfterSeconds > 0 {
			line("retry after", "%s", time.Duration(e.RetryAfterSeconds*float64(time.Second)).Round(time.Second))
		}
		if e.Remedy != nil {
			line("remedy", "%s:", e.Remedy.Source)
			io.WriteString(w, e.Remedy.lines("                 "))
		} else {
			line("remedy", "none documented for this error")
		}
	}
}

func outcomeText(o string) string {
	switch o {
	case "credential":
		return "credential missing or malformed, or base URL unusable"
	case "refused":
		return "refused by the server"
	case "rate_limited":
		return "rate limited"
	}
	return "network or other failure"
}

func orNone(s string) string {
	if s == "" {
		return "(none reported)"
	}
	return s
}

func intOr(p *int64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprint(*p)
}
