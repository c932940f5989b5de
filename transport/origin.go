package transport

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/apiauth/apiauth/internal/hostcheck"
)

// authOrigin is a parsed scheme + host + port, the unit credentials are scoped
// to. It is built once, when an [Auth] is first used, so that matching a
// request URL against it allocates nothing.
type authOrigin struct {
	scheme string // "http" or "https"
	host   string // lower case; IPv6 literals without brackets
	port   string // always explicit: "443" for https, "80" for http when omitted
}

// parseAuthOrigin reads the scheme, host and port of a base URL such as
// "https://api.example.com/v1". Path, query and fragment are ignored. It
// refuses URLs with user information, so that no secret in a mistyped origin
// ends up in a request or an error; the error never quotes raw.
func parseAuthOrigin(field, raw string) (authOrigin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return authOrigin{}, errkind.New("apiauth: transport.Auth: " + field + " is not a valid URL")
	}
	scheme := originLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return authOrigin{}, errkind.New("apiauth: transport.Auth: " + field + " must be an absolute http or https URL")
	}
	if u.User != nil {
		return authOrigin{}, errkind.New("apiauth: transport.Auth: " + field + " must not carry user information")
	}
	host := originLower(u.Hostname())
	if host == "" {
		return authOrigin{}, errkind.New("apiauth: transport.Auth: " + field + " has no host")
	}
	port := u.Port()
	if port == "" {
		port = originDefaultPort(scheme)
	}
	return authOrigin{scheme: scheme, host: host, port: port}, nil
}

// matches reports whether u belongs to o: same scheme, same host (compared
// case-insensitively) and same port once default ports are filled in. It
// does not allocate.
func (o *authOrigin) matches(u *url.URL) bool {
	if u == nil || !hostcheck.EqualFold(u.Scheme, o.scheme) {
		return false
	}
	if !hostcheck.EqualFold(u.Hostname(), o.host) {
		return false
	}
	p := u.Port()
	if p == "" {
		p = originDefaultPort(o.scheme)
	}
	return p == o.port
}

// originSame reports whether a and b share scheme, host and port, with
// default ports normalized and hosts compared case-insensitively. It does not
// allocate.
func originSame(a, b *url.URL) bool {
	if a == nil || b == nil || !hostcheck.EqualFold(a.Scheme, b.Scheme) {
		return false
	}
	if !hostcheck.EqualFold(a.Hostname(), b.Hostname()) {
		return false
	}
	pa, pb := a.Port(), b.Port()
	if pa == "" {
		pa = originDefaultPort(a.Scheme)
	}
	if pb == "" {
		pb = originDefaultPort(b.Scheme)
	}
	return pa == pb
}

// originDefaultPort returns the port a scheme implies, "" for schemes other than
// http and https (which then match no origin).
func originDefaultPort(scheme string) string {
	switch {
	case hostcheck.EqualFold(scheme, "https"):
		return "443"
	case hostcheck.EqualFold(scheme, "http"):
		return "80"
	}
	return ""
}

// originLower lowers the ASCII letters of s and nothing else.
func originLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// originLoopback reports whether host (without brackets or port) is localhost or
// a loopback IP address (127.0.0.0/8, ::1): the one check apiauth uses.
func originLoopback(host string) bool { return hostcheck.Loopback(host) }

// originPlainHTTP reports whether u would travel unencrypted to a host that is
// not loopback.
func originPlainHTTP(u *url.URL) bool {
	return u != nil && hostcheck.EqualFold(u.Scheme, "http") && !originLoopback(u.Hostname())
}

// authMaxChain bounds the walk along a redirect chain, as a guard against a
// Response.Request cycle built by a misbehaving RoundTripper. net/http stops
// at 10 hops by default.
const authMaxChain = 64

// authHop is what the [Auth] layer does with one request.
type authHop int

const (
	// authHopPass sends the request as it is: a request the caller addressed to
	// a foreign origin itself, with headers meant for that origin.
	authHopPass authHop = iota
	// authHopAttach attaches the credential and the tenant: the request and
	// every earlier hop of its redirect chain went to a trusted origin.
	authHopAttach
	// authHopStrip removes every credential header: a redirect hop whose chain
	// has left the origin the caller addressed, or left the trusted origins.
	authHopStrip
)

// classify decides the policy for req by walking its redirect chain
// (req.Response.Request, and so on back to the caller's first request):
//
//   - every request of the chain went to a trusted origin: attach;
//   - every request of the chain went to one origin that is not trusted (the
//     caller's own request to another service): pass untouched;
//   - otherwise the chain crossed origins: strip.
//
// So a chain that leaves the trusted origins never carries a credential
// again, even when a later hop comes back (a -> b -> a). It does not
// allocate.
func (c *authConfig) classify(req *http.Request) authHop {
	trusted := c.trusted(req.URL)
	same := true
	r := req
	for i := 0; i < authMaxChain && r.Response != nil && r.Response.Request != nil; i++ {
		r = r.Response.Request
		if trusted && !c.trusted(r.URL) {
			trusted = false
		}
		if same && !originSame(r.URL, req.URL) {
			same = false
		}
	}
	switch {
	case trusted:
		return authHopAttach
	case same:
		return authHopPass
	default:
		return authHopStrip
	}
}

// trusted reports whether u belongs to one of the configured origins.
func (c *authConfig) trusted(u *url.URL) bool {
	for i := range c.origins {
		if c.origins[i].matches(u) {
			return true
		}
	}
	return false
}

// authValidTenant reports whether a tenant or organization override may be sent
// as a header value: 1 to authMaxTenantLen bytes of visible ASCII (no space, no
// control character, no CR or LF).
func authValidTenant(s string) bool {
	if len(s) == 0 || len(s) > authMaxTenantLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f {
			return false
		}
	}
	return true
}

// authMaxTenantLen is the longest tenant or organization override accepted.
const authMaxTenantLen = 256

// authValidHeaderName reports whether s is a valid HTTP field name (an RFC 9110
// token).
func authValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
