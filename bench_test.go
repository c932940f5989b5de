package apiauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/transport"
)

// benchServer answers every request 200 with a small JSON body and the
// AudiModal rate-limit headers, with plenty of budget left.
func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(benchHandler)
	b.Cleanup(srv.Close)
	return srv
}

// benchHandler is benchServer's handler.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer bench-token" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-RateLimit-Limit", "1000000000")
	h.Set("X-RateLimit-Remaining", "999999999")
	h.Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	_, _ = io.WriteString(w, `{"status":"healthy"}`)
})

func drain(b *testing.B, resp *http.Response, err error) {
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkTransport sends one GET with a valid token through each stack a
// Go user might pick, against a loopback server: a bare http.Transport
// (header set by hand), oauth2's Transport, a go-retryablehttp client, and
// the full apiauth stack.
func BenchmarkTransport(b *testing.B) {
	srv := benchServer(b)
	benchStacks(b, srv.URL, func() http.RoundTripper { return http.DefaultTransport.(*http.Transport).Clone() })
}

// benchStacks runs the four contenders of BenchmarkTransport: one GET of
// origin's /v1/health per iteration, each stack over a base from newBase.
func benchStacks(b *testing.B, origin string, newBase func() http.RoundTripper) {
	url := origin + "/v1/health"
	hour := time.Now().Add(time.Hour)
	loop := func(b *testing.B, do func(*http.Request) (*http.Response, error), req *http.Request) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := do(req)
			drain(b, resp, err)
		}
	}
	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{Transport: newBase()}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		loop(b, hc.Do, req)
	})
	b.Run("oauth2", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench-token", Expiry: hour}))
		hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: newBase()}}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		loop(b, hc.Do, req)
	})
	b.Run("retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		rc.HTTPClient = &http.Client{Transport: newBase()}
		req, _ := retryablehttp.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		loop(b, func(*http.Request) (*http.Response, error) { return rc.Do(req) }, req.Request)
	})
	b.Run("apiauth", func(b *testing.B) {
		cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
			return &apiauth.Token{AccessToken: "bench-token", Expiry: hour}, nil
		}), nil)
		defer cache.Close()
		c, err := apiauth.NewClient(origin, cache, &apiauth.ClientOptions{Base: newBase()})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		loop(b, c.HTTPClient().Do, req)
	})
}

// BenchmarkConcurrentTLS sends GETs with a valid token from 16 goroutines
// to one host over TLS (loopback), each contender with the transport it
// gets by default, told only to trust the test server's certificate: bare
// and oauth2 over a clone of http.DefaultTransport (as http.Client{} and
// oauth2.NewClient use it), retryablehttp.NewClient's pooled transport,
// and apiauth's transport.NewBase. dials/op is the share of requests that
// opened a new connection (a TCP connect and a TLS handshake).
func BenchmarkConcurrentTLS(b *testing.B) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(benchHandler)
	// Clients that drop surplus connections make the server log handshake
	// errors; they are expected here.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	url := srv.URL + "/v1/health"
	trust := srv.Client().Transport.(*http.Transport).TLSClientConfig
	hour := time.Now().Add(time.Hour)
	withTrust := func(t *http.Transport) *http.Transport { t.TLSClientConfig = trust.Clone(); return t }

	run := func(b *testing.B, do func() (*http.Response, error), tr *http.Transport) {
		defer tr.CloseIdleConnections()
		dials.Store(0)
		b.SetParallelism(8) // 16 goroutines on 2 CPUs
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := do()
				drain(b, resp, err)
			}
		})
		b.ReportMetric(float64(dials.Load())/float64(b.N), "dials/op")
	}
	b.Run("bare", func(b *testing.B) {
		tr := withTrust(http.DefaultTransport.(*http.Transport).Clone())
		hc := &http.Client{Transport: tr}
		run(b, func() (*http.Response, error) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer bench-token")
			return hc.Do(req)
		}, tr)
	})
	b.Run("oauth2", func(b *testing.B) {
		tr := withTrust(http.DefaultTransport.(*http.Transport).Clone())
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench-token", Expiry: hour}))
		hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: tr}}
		run(b, func() (*http.Response, error) { return hc.Get(url) }, tr)
	})
	b.Run("retryablehttp", func(b *testing.B) {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		tr := withTrust(rc.HTTPClient.Transport.(*http.Transport))
		run(b, func() (*http.Response, error) {
			req, _ := retryablehttp.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer bench-token")
			return rc.Do(req)
		}, tr)
	})
	b.Run("apiauth", func(b *testing.B) {
		cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
			return &apiauth.Token{AccessToken: "bench-token", Expiry: hour}, nil
		}), nil)
		defer cache.Close()
		tr := withTrust(transport.NewBase())
		c, err := apiauth.NewClient(srv.URL, cache, &apiauth.ClientOptions{Base: tr})
		if err != nil {
			b.Fatal(err)
		}
		hc := c.HTTPClient()
		run(b, func() (*http.Response, error) { return hc.Get(url) }, tr)
	})
}

// BenchmarkRefreshBoundary has 64 goroutines send requests without pause
// while the token (1 s lifetime) crosses its refresh point three times,
// with a token endpoint that takes 100 ms. It reports the longest time any
// request waited for a token (max-wait-ms) and the token fetches per expiry
// (fetches/expiry). oauth2 uses ReuseTokenSourceWithExpiry with a 100 ms
// early expiry, the same margin apiauth applies to a 1 s token. Each
// sub-benchmark runs a fixed 3.2 s whatever b.N is; only the custom metrics
// mean anything.
func BenchmarkRefreshBoundary(b *testing.B) {
	const (
		lifetime = time.Second
		latency  = 100 * time.Millisecond
		run      = 3200 * time.Millisecond
		workers  = 64
	)
	var (
		mu     sync.Mutex
		issued []time.Time // when each token was issued
	)
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		now := time.Now()
		mu.Lock()
		issued = append(issued, now)
		mu.Unlock()
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iat": now.Unix(), "exp": now.Add(lifetime).Unix(), "jti": fmt.Sprint(now.UnixNano()),
		}).SignedString([]byte("k"))
		// The JWT's claims have 1 s resolution; expires_in gives the
		// exact lifetime to both contenders.
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":1}`, tok)
	}))
	defer tokenSrv.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer api.Close()

	// fetch gets one token from the endpoint; both contenders use it.
	fetch := func(ctx context.Context) (*apiauth.Token, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tokenSrv.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := jsonDecode(resp.Body, &out); err != nil {
			return nil, err
		}
		return &apiauth.Token{AccessToken: out.AccessToken, Expiry: time.Now().Add(lifetime)}, nil
	}

	measure := func(b *testing.B, getToken func() (string, error)) {
		mu.Lock()
		issued = nil
		mu.Unlock()
		var maxWait atomic.Int64
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer hc.CloseIdleConnections()
		if _, err := getToken(); err != nil { // warm: first token
			b.Fatal(err)
		}
		start := time.Now()
		deadline := start.Add(run)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					t0 := time.Now()
					tok, err := getToken()
					if err != nil {
						b.Error(err)
						return
					}
					if w := int64(time.Since(t0)); w > maxWait.Load() {
						for old := maxWait.Load(); w > old && !maxWait.CompareAndSwap(old, w); old = maxWait.Load() {
						}
					}
					req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		// An expiry is a moment a token in use runs out: the distinct
		// expiry instants (to a fifth of the lifetime, so that a herd of
		// tokens fetched together counts once) inside the run. Fetches are
		// the token-endpoint calls made during the run.
		mu.Lock()
		moments := map[int64]bool{}
		fetched := 0
		for _, at := range issued {
			if at.After(start) {
				fetched++
			}
			if exp := at.Add(lifetime); exp.After(start) && exp.Before(deadline) {
				moments[int64(exp.Sub(start)/(lifetime/5))] = true
			}
		}
		mu.Unlock()
		b.ReportMetric(float64(maxWait.Load())/1e6, "max-wait-ms")
		b.ReportMetric(float64(fetched)/float64(max(len(moments), 1)), "fetches/expiry")
	}

	b.Run("apiauth", func(b *testing.B) {
		cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(fetch), nil)
		defer cache.Close()
		measure(b, func() (string, error) {
			t, err := cache.Token(context.Background())
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		})
	})
	b.Run("oauth2", func(b *testing.B) {
		src := oauth2TokenSourceFunc(func() (*oauth2.Token, error) {
			t, err := fetch(context.Background())
			if err != nil {
				return nil, err
			}
			return &oauth2.Token{AccessToken: t.AccessToken, Expiry: t.Expiry}, nil
		})
		ts := oauth2.ReuseTokenSourceWithExpiry(nil, src, 100*time.Millisecond)
		measure(b, func() (string, error) {
			t, err := ts.Token()
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		})
	})
}

type oauth2TokenSourceFunc func() (*oauth2.Token, error)

func (f oauth2TokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// fakeBase answers every request from memory with the headers benchServer
// sends: no network, so that BenchmarkStackOverhead sees only what
// each stack adds on top of its base.
type fakeBase struct{ header http.Header }

func newFakeBase() *fakeBase {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	// A budget so large that pacing never holds a request back, even at
	// the millions of requests per second a memory-only base allows
	// (benchServer's 1e9 per hour is one request per 3.7 µs).
	h.Set("X-RateLimit-Limit", "100000000000000")
	h.Set("X-RateLimit-Remaining", "99999999999999")
	h.Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	return &fakeBase{header: h}
}

func (f *fakeBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "Bearer bench-token" {
		return nil, fmt.Errorf("no credential on %s", req.URL)
	}
	return &http.Response{StatusCode: 200, Header: f.header, Body: http.NoBody, Request: req}, nil
}

// BenchmarkStackOverhead is BenchmarkTransport with the network taken out:
// each stack sits on a base that answers from memory, so ns/op and
// allocs/op are what the stack itself costs per request (plus one
// http.Client.Do and one response, the same for every contender).
func BenchmarkStackOverhead(b *testing.B) {
	benchStacks(b, "https://api.example.test", func() http.RoundTripper { return newFakeBase() })
}
