package transport

import (
	"net"
	"net/http"
	"time"
)

// DefaultBaseMaxIdleConnsPerHost is how many idle connections to one host
// the transport from [NewBase] keeps.
const DefaultBaseMaxIdleConnsPerHost = 100

// NewBase returns the transport the layers use when their Base is nil: a
// clone of http.DefaultTransport (its proxy settings, dial, TLS handshake,
// idle and expect-continue timeouts, HTTP/2) that keeps up to
// [DefaultBaseMaxIdleConnsPerHost] idle connections per host instead of
// net/http's 2.
//
// An SDK client talks to one API host, usually from many goroutines. With
// net/http's default, every request beyond the second in flight ends by
// closing its connection, and the next one dials again: over TLS that is a
// handshake per request (BenchmarkConcurrentTLS: about 13 times slower
// with 16 goroutines). Start from NewBase to change the TLS settings (a
// private CA, client certificates) and pass it as Base.
//
// If http.DefaultTransport has been replaced by something other than an
// *http.Transport, NewBase starts from net/http's documented defaults
// instead.
func NewBase() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   30 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
		}
	}
	t.MaxIdleConnsPerHost = DefaultBaseMaxIdleConnsPerHost
	if t.MaxIdleConns != 0 && t.MaxIdleConns < DefaultBaseMaxIdleConnsPerHost {
		t.MaxIdleConns = DefaultBaseMaxIdleConnsPerHost
	}
	return t
}
