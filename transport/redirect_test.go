package transport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/testrt"
)

// redirCredHeaders are every header that would carry a credential in the
// redirect matrix: the credential's own (Authorization, X-Extra-Secret via
// HeaderNamer), the tenant header, and the one the caller sets by hand
// (X-Api-Key, stripped whatever the credential; a provider's own header,
// such as Artanis' x-org-slug, is stripped when its credential names it or
// it is the tenant header, see TestAuthStrippedHeaders).
var redirCredHeaders = []string{"Authorization", "X-Extra-Secret", "X-Tenant-Id", "X-Api-Key"}

// redirCred is a static credential that also sets a header only it knows
// about, announced through HeaderNamer.
type redirCred struct{}

func (redirCred) Apply(_ context.Context, h http.Header) (any, error) {
	h.Set("Authorization", "Bearer secret-token")
	h.Set("X-Extra-Secret", "extra-secret")
	return nil, nil
}

func (redirCred) HeaderNames() []string { return []string{"X-Extra-Secret"} }

// redirWorld is two httptest listeners, one TLS and one plain, serving the
// host names a.test, b.test, sub.a.test and c.test: the client's transport
// dials port 443 to the TLS listener and port 80 to the plain one. Every
// request is recorded as "scheme://host/path +" when it carried all the
// credential headers, "-" when it carried none, and "partial" otherwise.
type redirWorld struct {
	mu   sync.Mutex
	hops []string
	base *http.Transport
}

func (w *redirWorld) record(s string) {
	w.mu.Lock()
	w.hops = append(w.hops, s)
	w.mu.Unlock()
}

func (w *redirWorld) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hops
	w.hops = nil
	return h
}

// ServeHTTP redirects with status ?code to the first ?next URL, carrying the
// rest of the chain along, and answers the last hop with 200, except that
// a.test answers 401 to a request without Authorization, as a real API would.
func (w *redirWorld) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, p, err := net.SplitHostPort(host); err == nil && (p == "443" || p == "80") {
		host = h
	}
	n := 0
	for _, name := range redirCredHeaders {
		if r.Header.Get(name) != "" {
			n++
		}
	}
	mark := "partial"
	switch n {
	case 0:
		mark = "-"
	case len(redirCredHeaders):
		mark = "+"
	}
	w.record(scheme + "://" + host + r.URL.Path + " " + mark)

	q := r.URL.Query()
	if next := q["next"]; len(next) > 0 {
		code, _ := strconv.Atoi(q.Get("code"))
		v := url.Values{"code": {q.Get("code")}, "next": next[1:]}
		rw.Header().Set("Location", next[0]+"?"+v.Encode())
		rw.WriteHeader(code)
		return
	}
	if host == "a.test" && r.Header.Get("Authorization") == "" {
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	rw.WriteHeader(http.StatusOK)
}

func newRedirWorld(t *testing.T) *redirWorld {
	t.Helper()
	w := &redirWorld{}
	cert, pool := redirCert(t, "a.test", "b.test", "sub.a.test", "c.test")

	tlsSrv := httptest.NewUnstartedServer(w)
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(w)
	t.Cleanup(plainSrv.Close)

	tlsAddr := tlsSrv.Listener.Addr().String()
	plainAddr := plainSrv.Listener.Addr().String()
	var d net.Dialer
	w.base = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			switch port {
			case "443":
				return d.DialContext(ctx, network, tlsAddr)
			case "80":
				return d.DialContext(ctx, network, plainAddr)
			}
			return nil, fmt.Errorf("test dialer: no listener for %s", addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool}, // verification on
	}
	t.Cleanup(w.base.CloseIdleConnections)
	return w
}

// redirCert makes a throw-away CA and a server certificate for names,
// returning the certificate and a pool trusting the CA.
func redirCert(t *testing.T, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apiauth test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, pool
}

// redirOutcome is what one client observes for one redirect chain.
type redirOutcome struct {
	refused bool     // Do returned an error matching errkind.InsecureTransport
	status  int      // final status when followed
	hops    []string // what the servers saw, in order (see redirWorld)
}

// TestRedirectMatrix documents, for each chain and each redirect status,
// what apiauth does with a client whose CheckRedirect is Auth.CheckRedirect
// (policy) and with a plain client keeping net/http's default policy
// (nil): in no case does a foreign origin see a credential header, whether
// ours or set by hand by the caller.
func TestRedirectMatrix(t *testing.T) {
	w := newRedirWorld(t)
	auth := &Auth{Base: w.base, AuthOptions: AuthOptions{Credential: redirCred{}, Origin: "https://A.test:443/v1", AllowedOrigins: []string{"https://c.test"}, TenantHeader: "X-Tenant-ID", Tenant: "tenant_456"}}
	if err := auth.Validate(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		next   []string // the redirect chain after https://a.test/start
		policy redirOutcome
		plain  redirOutcome
	}{
		{
			name: "a to b: followed bare",
			next: []string{"https://b.test/b1"},
			policy: redirOutcome{status: 200, hops: []string{
				"https://a.test/start +", "https://b.test/b1 -"}},
		},
		{
			name: "a to b to a: followed, bare from b on, a answers 401",
			next: []string{"https://b.test/b1", "https://a.test/a2"},
			policy: redirOutcome{status: 401, hops: []string{
				"https://a.test/start +", "https://b.test/b1 -", "https://a.test/a2 -"}},
		},
		{
			name: "a to sub.a: a subdomain is another origin, followed bare",
			next: []string{"https://sub.a.test/s1"},
			policy: redirOutcome{status: 200, hops: []string{
				"https://a.test/start +", "https://sub.a.test/s1 -"}},
		},
		{
			name:   "https to http on the same host: refused by policy, bare without it",
			next:   []string{"http://a.test/h1"},
			policy: redirOutcome{refused: true, hops: []string{"https://a.test/start +"}},
			plain: redirOutcome{status: 401, hops: []string{
				"https://a.test/start +", "http://a.test/h1 -"}},
		},
		{
			name: "a to c, an allowed origin: followed with credentials",
			next: []string{"https://c.test/c1"},
			policy: redirOutcome{status: 200, hops: []string{
				"https://a.test/start +", "https://c.test/c1 +"}},
		},
		{
			name: "a to a with an explicit default port: same origin",
			next: []string{"https://a.test:443/a1"},
			policy: redirOutcome{status: 200, hops: []string{
				"https://a.test/start +", "https://a.test/a1 +"}},
		},
		{
			name: "a to b to c: bare from b on, even on the allowed origin",
			next: []string{"https://b.test/b1", "https://c.test/c1"},
			policy: redirOutcome{status: 200, hops: []string{
				"https://a.test/start +", "https://b.test/b1 -", "https://c.test/c1 -"}},
		},
	}
	for _, tt := range tests {
		if tt.plain.hops == nil {
			tt.plain = tt.policy // same outcome when the policy does not refuse
		}
		for _, code := range []int{301, 302, 303, 307, 308} {
			for _, usePolicy := range []bool{true, false} {
				name := fmt.Sprintf("%s/%d/policy=%v", tt.name, code, usePolicy)
				want := tt.plain
				client := &http.Client{Transport: auth}
				if usePolicy {
					want = tt.policy
					client.CheckRedirect = auth.CheckRedirect
				}
				t.Run(name, func(t *testing.T) {
					v := url.Values{"code": {strconv.Itoa(code)}, "next": tt.next}
					body := []byte(`{"payload":"kept"}`)
					req, err := http.NewRequest(http.MethodPost, "https://a.test/start?"+v.Encode(), bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("x-api-key", "hand-set-key")

					resp, err := client.Do(req)
					var got redirOutcome
					if err != nil {
						if !errors.Is(err, errkind.InsecureTransport) {
							t.Fatalf("Do: %v", err)
						}
						var ie *InsecureError
						if !errors.As(err, &ie) || !ie.Redirect {
							t.Fatalf("Do error = %v, want an *InsecureError with Redirect set", err)
						}
						got.refused = true
					} else {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						got.status = resp.StatusCode
					}
					got.hops = w.take()

					if got.refused != want.refused || got.status != want.status || !slices.Equal(got.hops, want.hops) {
						t.Errorf("got refused=%v status=%d hops=%q\nwant refused=%v status=%d hops=%q",
							got.refused, got.status, got.hops, want.refused, want.status, want.hops)
					}
				})
			}
		}
	}
}

// TestRedirectMaxHops checks that Auth.CheckRedirect stops after 10 hops.
func TestRedirectMaxHops(t *testing.T) {
	w := newRedirWorld(t)
	auth := &Auth{Base: w.base, AuthOptions: AuthOptions{Credential: redirCred{}, Origin: "https://a.test", TenantHeader: "X-Tenant-ID", Tenant: "t"}}
	client := &http.Client{Transport: auth, CheckRedirect: auth.CheckRedirect}
	var next []string
	for i := range 15 {
		next = append(next, fmt.Sprintf("https://a.test/h%d", i))
	}
	v := url.Values{"code": {"302"}, "next": next}
	resp, err := client.Get("https://a.test/start?" + v.Encode())
	if err == nil {
		resp.Body.Close()
		t.Fatal("Get succeeded, want an error after 10 redirects")
	}
	if !strings.Contains(err.Error(), "apiauth: stopped after 10 redirects") {
		t.Errorf("Get error = %v, want it to say it stopped after 10 redirects", err)
	}
	if hops := w.take(); len(hops) != 10 {
		t.Errorf("servers saw %d requests, want 10: %q", len(hops), hops)
	}
}

// TestRedirectPlainHTTPAllowed checks the exceptions to the downgrade rule:
// a redirect to loopback, and AllowInsecure.
func TestRedirectPlainHTTPAllowed(t *testing.T) {
	a := &Auth{}
	mk := func(s string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	via := []*http.Request{mk("https://a.test/")}
	if err := a.CheckRedirect(mk("http://127.0.0.1:8080/x"), via); err != nil {
		t.Errorf("redirect to loopback over http: %v, want nil", err)
	}
	if err := a.CheckRedirect(mk("http://localhost/x"), via); err != nil {
		t.Errorf("redirect to localhost over http: %v, want nil", err)
	}
	if err := a.CheckRedirect(mk("http://a.test/x"), via); !errors.Is(err, errkind.InsecureTransport) {
		t.Errorf("redirect to http://a.test: %v, want ErrInsecureTransport", err)
	}
	insecure := &Auth{AuthOptions: AuthOptions{AllowInsecure: true}}
	if err := insecure.CheckRedirect(mk("http://a.test/x"), via); err != nil {
		t.Errorf("AllowInsecure: redirect to http://a.test: %v, want nil", err)
	}
	if err := a.CheckRedirect(mk("http://b.test/x"), []*http.Request{mk("http://a.test/")}); err != nil {
		t.Errorf("http to http redirect: %v, want nil (no downgrade)", err)
	}
}

// TestRedirectBaseWithoutResponseRequest runs a -> b -> a through a fake base
// that, like many test doubles, leaves Response.Request nil: the layer must
// still see that the chain left the origin.
func TestRedirectBaseWithoutResponseRequest(t *testing.T) {
	var mu sync.Mutex
	var saw []string
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		saw = append(saw, r.URL.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
		switch r.URL.String() {
		case "https://a.test/start":
			resp.StatusCode, resp.Header["Location"] = 302, []string{"https://b.test/b"}
		case "https://b.test/b":
			resp.StatusCode, resp.Header["Location"] = 302, []string{"https://a.test/back"}
		}
		return resp, nil
	})
	auth := &Auth{Base: base, AuthOptions: AuthOptions{Credential: redirCred{}, Origin: "https://a.test"}}
	client := &http.Client{Transport: auth, CheckRedirect: auth.CheckRedirect}
	resp, err := client.Get("https://a.test/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []string{"a.test Bearer secret-token", "b.test ", "a.test "}
	if !slices.Equal(saw, want) {
		t.Errorf("base saw %q, want %q", saw, want)
	}
}
