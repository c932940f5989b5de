package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/testrt"
	"github.com/jarcoal/httpmock"
)

// retryServe is a base transport that answers in memory with h, as a server
// would (it reads and closes the request body), so it runs inside a synctest
// bubble. Every response body it returns is counted in bodies.
func retryServe(h http.HandlerFunc) (testrt.Func, *retryBodies) {
	bodies := &retryBodies{}
	return func(req *http.Request) (*http.Response, error) {
		srvReq := req.Clone(req.Context())
		if srvReq.Body == nil {
			srvReq.Body = http.NoBody
		}
		rec := httptest.NewRecorder()
		h(rec, srvReq)
		_, _ = io.Copy(io.Discard, srvReq.Body)
		srvReq.Body.Close()
		resp := rec.Result()
		resp.Request = req
		resp.Body = bodies.track(resp.Body)
		return resp, nil
	}, bodies
}

// retryBodies records whether the response bodies handed out were closed.
type retryBodies struct {
	mu     sync.Mutex
	bodies []*retryTrackedBody
}

type retryTrackedBody struct {
	io.ReadCloser
	closed atomic.Bool
}

func (b *retryTrackedBody) Close() error {
	b.closed.Store(true)
	return b.ReadCloser.Close()
}

func (t *retryBodies) track(rc io.ReadCloser) io.ReadCloser {
	b := &retryTrackedBody{ReadCloser: rc}
	t.mu.Lock()
	t.bodies = append(t.bodies, b)
	t.mu.Unlock()
	return b
}

// closed returns, for each body handed out, whether it was closed.
func (t *retryBodies) closed() []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]bool, len(t.bodies))
	for i, b := range t.bodies {
		out[i] = b.closed.Load()
	}
	return out
}

const retryAudiModal429 = `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`

func retryZero() float64 { return 0 }

func retryGet(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func retryReadBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return string(b)
}

// A 429 whose only wait is retry_after in the body: the layer waits exactly
// that long and then succeeds.
func TestRetryWaitsForBodyRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base, bodies := retryServe(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("X-RateLimit-Limit", "1000")
				w.Header().Set("X-RateLimit-Remaining", "0")
				// A later reset than the body asks for: the body wins.
				w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(50*time.Minute).Unix(), 10))
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, retryAudiModal429)
				return
			}
			io.WriteString(w, "ok")
		})
		var waits []time.Duration
		rt := &Retry{Base: base, RetryOptions: RetryOptions{OnRetry: func(_ *http.Request, _ int, _ *http.Response, _ error, wait time.Duration) {
			waits = append(waits, wait)
		}}}
		// A POST without an idempotency key: a 429 is retried anyway.
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.test/v1/files", strings.NewReader("{}"))
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 60*time.Second {
			t.Errorf("waited %v; want the body's retry_after of 60s", got)
		}
		if resp.StatusCode != http.StatusOK || retryReadBody(t, resp) != "ok" || calls.Load() != 2 {
			t.Errorf("got %d after %d calls; want 200 after 2", resp.StatusCode, calls.Load())
		}
		if !reflect.DeepEqual(waits, []time.Duration{60 * time.Second}) {
			t.Errorf("OnRetry waits = %v; want [1m0s]", waits)
		}
		if c := bodies.closed(); !c[0] {
			t.Error("the 429's body was not closed before the retry")
		}
	})
}

// Where each wait comes from, for each kind of response.
func TestRetryWaitSources(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header func(h http.Header, now time.Time)
		body   string
		want   time.Duration
	}{
		{"503 Retry-After seconds", 503, func(h http.Header, _ time.Time) { h.Set("Retry-After", "2") }, "", 2 * time.Second},
		{"429 Retry-After date", 429, func(h http.Header, now time.Time) {
			h.Set("Retry-After", now.Add(5*time.Second).UTC().Format(http.TimeFormat))
		}, "", 5 * time.Second},
		{"429 Retry-After beats body", 429, func(h http.Header, _ time.Time) { h.Set("Retry-After", "3") }, retryAudiModal429, 3 * time.Second},
		{"503 body retry_after", 503, func(http.Header, time.Time) {}, `{"error":{"code":"UNAVAILABLE","retry_after":4}}`, 4 * time.Second},
		{"429 X-RateLimit-Reset epoch", 429, func(h http.Header, now time.Time) {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+7, 10))
		}, `{"error":{"code":"RATE_LIMIT_EXCEEDED"}}`, 7 * time.Second},
		// Backoff with Rand 0.5 for the first retry: 0.5 × 250ms.
		{"503 ignores X-RateLimit-Reset", 503, func(h http.Header, now time.Time) {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+7, 10))
		}, "", 125 * time.Millisecond},
		{"502 ignores Retry-After", 502, func(h http.Header, _ time.Time) { h.Set("Retry-After", "3") }, "", 125 * time.Millisecond},
		{"429 Retry-After 0 backs off", 429, func(h http.Header, _ time.Time) { h.Set("Retry-After", "0") }, "", 125 * time.Millisecond},
		{"429 reset in the past backs off", 429, func(h http.Header, now time.Time) {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()-10, 10))
		}, "", 125 * time.Millisecond},
		{"429 exactly MaxWait", 429, func(h http.Header, _ time.Time) { h.Set("Retry-After", "60") }, "", 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) == 1 {
						tt.header(w.Header(), time.Now())
						w.WriteHeader(tt.status)
						io.WriteString(w, tt.body)
					}
				})
				rt := &Retry{Base: base, RetryOptions: RetryOptions{Rand: func() float64 { return 0.5 }}}
				start := time.Now()
				resp, err := rt.RoundTrip(retryGet(t, context.Background(), "https://api.example.test/v1/x"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := time.Since(start); got != tt.want || resp.StatusCode != 200 {
					t.Errorf("waited %v, final status %d; want %v, 200", got, resp.StatusCode, tt.want)
				}
			})
		})
	}
}

// A server wait longer than MaxWait is not slept: the response comes back at
// once, body intact, for the caller to map to a rate-limit error.
func TestRetryWaitPastMaxWaitReturnsResponse(t *testing.T) {
	big := `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"` + strings.Repeat("x", 100<<10) + `"}}`
	tests := []struct {
		name   string
		header func(h http.Header)
		body   string
	}{
		{"Retry-After 3600", func(h http.Header) { h.Set("Retry-After", "3600") }, retryAudiModal429},
		{"body retry_after 3600", func(http.Header) {},
			`{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":3600}}`},
		{"reset in an hour, body over 64 KiB", func(h http.Header) {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		}, big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.header(w.Header())
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			var hooked atomic.Int32
			rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{OnRetry: func(*http.Request, int, *http.Response, error, time.Duration) {
				hooked.Add(1)
			}}}
			resp, err := rt.RoundTrip(retryGet(t, context.Background(), srv.URL+"/v1/files"))
			if err != nil {
				t.Fatalf("RoundTrip error %v; want the 429 response", err)
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("status %d; want 429", resp.StatusCode)
			}
			if got := retryReadBody(t, resp); got != tt.body {
				t.Errorf("body of %d bytes handed back; want the intact %d bytes", len(got), len(tt.body))
			}
			if calls.Load() != 1 || hooked.Load() != 0 {
				t.Errorf("%d attempts, %d OnRetry calls; want 1 and 0", calls.Load(), hooked.Load())
			}
		})
	}

	synctest.Test(t, func(t *testing.T) {
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		start := time.Now()
		resp, err := (&Retry{Base: base}).RoundTrip(retryGet(t, context.Background(), "https://api.example.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); d != 0 {
			t.Errorf("slept %v before returning the 429; want no sleep", d)
		}
	})
}

// MaxWait negative: never sleep for the server.
func TestRetryNegativeMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{MaxWait: -1}}).RoundTrip(retryGet(t, context.Background(), "https://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || calls.Load() != 1 {
			t.Errorf("status %d after %d calls; want 503 after 1", resp.StatusCode, calls.Load())
		}
	})
}

// A wait that would end after the context's deadline is not started.
func TestRetryWaitPastDeadlineReturnsResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"UNAVAILABLE"}}`)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := (&Retry{Base: base}).RoundTrip(retryGet(t, ctx, "https://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 || resp.StatusCode != 503 || retryReadBody(t, resp) != `{"error":{"code":"UNAVAILABLE"}}` {
			t.Errorf("after %v: status %d; want the 503 with its body at once", time.Since(start), resp.StatusCode)
		}
	})
}

// POST answered 503: retried only with an Idempotency-Key, the same on every
// attempt.
func TestRetryPOSTIdempotencyKey(t *testing.T) {
	tests := []struct {
		name     string
		key      string // sent by the caller; "" for none
		add      bool   // AddIdempotencyKey
		attempts int
	}{
		{"no key", "", false, 1},
		{"caller's key", "order-7f3a", false, 4},
		{"added key", "", true, 4},
		{"caller's key kept when adding", "order-7f3a", true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", strings.NewReader(`{"sku":"a"}`))
			if tt.key != "" {
				req.Header.Set("Idempotency-Key", tt.key)
			}
			rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{Rand: retryZero, AddIdempotencyKey: tt.add}}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 || len(keys) != tt.attempts {
				t.Fatalf("status %d after %d attempts; want 503 after %d", resp.StatusCode, len(keys), tt.attempts)
			}
			for _, k := range keys {
				if k != keys[0] {
					t.Fatalf("keys differ between attempts: %q", keys)
				}
			}
			switch {
			case tt.key != "" && keys[0] != tt.key:
				t.Errorf("server saw key %q; want the caller's %q", keys[0], tt.key)
			case tt.key == "" && tt.add && !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(keys[0]):
				t.Errorf("added key %q is not a random UUID", keys[0])
			case tt.key == "" && !tt.add && keys[0] != "":
				t.Errorf("a key %q was sent although none was asked for", keys[0])
			}
			if got := req.Header.Get("Idempotency-Key"); got != tt.key {
				t.Errorf("caller's request now has Idempotency-Key %q; want %q", got, tt.key)
			}
		})
	}
}

// AddIdempotencyKey draws a fresh key for each request, not each attempt.
func TestRetryAddedKeyIsPerRequest(t *testing.T) {
	var seen []string
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.Header.Get("Idempotency-Key"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	rt := &Retry{Base: base, RetryOptions: RetryOptions{AddIdempotencyKey: true}}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "https://a.test/", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "https://a.test/", nil)
	rt.RoundTrip(req)
	if len(seen) != 3 || seen[0] == "" || seen[0] == seen[1] || seen[2] != "" {
		t.Errorf("keys %q; want two different keys for the POSTs and none for the GET", seen)
	}
}

// A context cancelled during a 30 s wait ends the wait at once with an error
// wrapping context.Canceled, and closes the last response body.
func TestRetryCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, bodies := retryServe(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
		})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		budget := &RetryBudget{}
		start := time.Now()
		resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Budget: budget}}).RoundTrip(retryGet(t, ctx, "https://a.test/v1/x"))
		elapsed := time.Since(start)
		if resp != nil {
			t.Errorf("got a response with the error")
		}
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "apiauth: ") {
			t.Errorf("err = %v; want an apiauth error wrapping context.Canceled", err)
		}
		if elapsed > 50*time.Millisecond {
			t.Errorf("returned after %v of a 30s wait; want within 50ms of the cancel", elapsed)
		}
		if c := bodies.closed(); len(c) != 1 || !c[0] {
			t.Errorf("response bodies closed: %v; want the one body closed", c)
		}
		if got := budget.Available(); got != 500 {
			t.Errorf("budget holds %d after a retry that never ran; want 500", got)
		}
	})
}

// The same across a real connection, with real time.
func TestRetryCancelDuringWaitOverTheWire(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, retryAudiModal429)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{OnRetry: func(*http.Request, int, *http.Response, error, time.Duration) {
		time.AfterFunc(20*time.Millisecond, cancel)
	}}}
	req := retryGet(t, ctx, srv.URL)
	done := make(chan error, 1)
	go func() {
		_, err := rt.RoundTrip(req)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want one wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still waiting 10s after the context was cancelled")
	}
}

// The request body is sent whole on every attempt when it can be replayed,
// and once when it cannot.
func TestRetryBodyReplay(t *testing.T) {
	payload := make([]byte, 200<<10)
	rand.Read(payload)
	type opaque struct{ io.Reader } // hides the reader's type from net/http
	tests := []struct {
		name     string
		req      func(url string) *http.Request
		maxBuf   int64
		attempts int
		status   int
	}{
		{"GetBody", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			return req
		}, 0, 3, 200},
		{"known length buffered", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			req.GetBody = nil
			return req
		}, 0, 3, 200},
		{"unknown length sent once", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, opaque{bytes.NewReader(payload)})
			return req
		}, 0, 1, 503},
		{"larger than MaxBufferedBody sent once", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			req.GetBody = nil
			return req
		}, 100 << 10, 1, 503},
		{"buffering disabled", func(url string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			req.GetBody = nil
			return req
		}, -1, 1, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got [][]byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("server reading body: %v", err)
				}
				mu.Lock()
				got = append(got, b)
				n := len(got)
				mu.Unlock()
				if n < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			req := tt.req(srv.URL + "/v1/upload")
			req.Header.Set("Idempotency-Key", "upload-1")
			rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{Rand: retryZero, MaxBufferedBody: tt.maxBuf}}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || len(got) != tt.attempts {
				t.Fatalf("status %d after %d attempts; want %d after %d", resp.StatusCode, len(got), tt.status, tt.attempts)
			}
			for i, b := range got {
				if !bytes.Equal(b, payload) {
					t.Errorf("attempt %d: server got %d bytes; want the %d-byte body", i+1, len(b), len(payload))
				}
			}
		})
	}
}

// A body whose GetBody fails is not retried; the last response comes back.
func TestRetryGetBodyFails(t *testing.T) {
	var calls int
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		calls++
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return &http.Response{StatusCode: 503, Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
	})
	req, _ := http.NewRequest(http.MethodPut, "https://a.test/x", strings.NewReader("data"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
	resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero}}).RoundTrip(req)
	if err != nil || resp.StatusCode != 503 || retryReadBody(t, resp) != "down" || calls != 1 {
		t.Errorf("got %v, %v after %d calls; want the 503 with its body after 1", resp, err, calls)
	}
}

// The caller's request is the same after the round trip: method, URL,
// headers, body fields, and a GetBody that still yields the whole body.
func TestRetryLeavesCallerRequestUnchanged(t *testing.T) {
	var calls atomic.Int32
	var lastQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastQuery = r.URL.RawQuery
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	payload := `{"name":"report.pdf"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/files?tenant=t1", strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tenant-ID", "t1")
	req.Header["X-Multi"] = []string{"a", "b"}

	wantURL := req.URL.String()
	wantHeader := req.Header.Clone()
	wantBody, wantGetBody, wantLen := req.Body, req.GetBody, req.ContentLength

	rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{Rand: retryZero, AddIdempotencyKey: true}}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls.Load() != 3 || lastQuery != "tenant=t1" {
		t.Fatalf("status %d after %d calls (query %q); want 200 after 3", resp.StatusCode, calls.Load(), lastQuery)
	}
	if req.Method != http.MethodPost || req.URL.String() != wantURL {
		t.Errorf("request line changed to %s %s", req.Method, req.URL)
	}
	if !reflect.DeepEqual(req.Header, wantHeader) {
		t.Errorf("headers changed:\n got %v\nwant %v", req.Header, wantHeader)
	}
	if req.Body != wantBody || req.ContentLength != wantLen || reflect.ValueOf(req.GetBody).Pointer() != reflect.ValueOf(wantGetBody).Pointer() {
		t.Error("body fields of the caller's request changed")
	}
	rc, _ := req.GetBody()
	if b, _ := io.ReadAll(rc); string(b) != payload {
		t.Errorf("caller's GetBody yields %q; want %q", b, payload)
	}
}

// A server failing forever gets at most one attempt per request plus what the
// budget allows.
func TestRetryBudgetBoundsLoad(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableBudget=%v", disable), func(t *testing.T) {
			var attempts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			rt := &Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{Rand: retryZero, DisableBudget: disable}}
			const requests = 200
			for range requests {
				resp, err := rt.RoundTrip(retryGet(t, context.Background(), srv.URL))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 503 {
					t.Fatalf("status %d; want the last 503", resp.StatusCode)
				}
			}
			limit := int64(requests + 500/5)
			if disable {
				limit = requests * 4
			}
			if got := attempts.Load(); got != limit {
				t.Errorf("%d attempts for %d requests; want %d", got, requests, limit)
			}
		})
	}
}

// Successes put tokens back; a shared budget is shared.
func TestRetryBudgetRefunds(t *testing.T) {
	fail := true
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		status := 200
		if fail {
			status = 503
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
	})
	budget := &RetryBudget{Capacity: 10}
	a := &Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero, Budget: budget}}
	b := &Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero, Budget: budget}}
	get := func(rt *Retry) {
		resp, err := rt.RoundTrip(retryGet(t, context.Background(), "https://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(a) // two retries drain the 10 tokens
	if got := budget.Available(); got != 0 {
		t.Fatalf("after a failing request: %d tokens; want 0", got)
	}
	fail = false
	for range 3 {
		get(b)
	}
	if got := budget.Available(); got != 3 {
		t.Fatalf("after 3 successes: %d tokens; want 3", got)
	}
	// One failure then a success: the retry's cost comes back.
	calls := 0
	a.Base = testrt.Func(func(r *http.Request) (*http.Response, error) {
		calls++
		return base(r)
	})
	fail = true
	a.OnRetry = func(*http.Request, int, *http.Response, error, time.Duration) { fail = false }
	budget.release(2) // 5 tokens
	get(a)
	if got := budget.Available(); got != 5 || calls != 2 {
		t.Fatalf("after a successful retry: %d tokens, %d calls; want 5 and 2", got, calls)
	}
}

// The retry table, through the layer, over canned responses.
func TestRetryPolicyTable(t *testing.T) {
	tests := []struct {
		method string
		key    bool // Idempotency-Key set
		status int
		retry  bool
	}{
		{"GET", false, 429, true},
		{"GET", false, 500, true},
		{"GET", false, 502, true},
		{"GET", false, 503, true},
		{"GET", false, 504, true},
		{"HEAD", false, 503, true},
		{"OPTIONS", false, 502, true},
		{"PUT", false, 500, true},
		{"DELETE", false, 504, true},
		{"TRACE", false, 503, true},
		{"GET", false, 501, false},
		{"GET", false, 505, false},
		{"GET", false, 400, false},
		{"GET", false, 401, false},
		{"GET", false, 403, false},
		{"GET", false, 404, false},
		{"GET", false, 409, false},
		{"GET", false, 200, false},
		{"GET", false, 304, false},
		{"POST", false, 429, true},
		{"POST", false, 500, false},
		{"POST", false, 502, false},
		{"POST", false, 503, false},
		{"POST", false, 504, false},
		{"PATCH", false, 503, false},
		{"POST", true, 429, true},
		{"POST", true, 500, false},
		{"POST", true, 502, true},
		{"POST", true, 503, true},
		{"POST", true, 504, true},
		{"PATCH", true, 503, true},
		{"POST", true, 400, false},
	}
	mock := httpmock.NewMockTransport()
	var calls atomic.Int32
	for _, tt := range tests {
		mock.RegisterResponder(tt.method, fmt.Sprintf("https://api.example.test/status/%d", tt.status),
			func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return httpmock.NewStringResponse(tt.status, `{"error":{"code":"X"}}`), nil
			})
	}
	rt := &Retry{Base: mock, RetryOptions: RetryOptions{Rand: retryZero, MaxAttempts: 2, DisableBudget: true}}
	for _, tt := range tests {
		calls.Store(0)
		req, _ := http.NewRequest(tt.method, fmt.Sprintf("https://api.example.test/status/%d", tt.status), nil)
		if tt.key {
			req.Header.Set("Idempotency-Key", "k")
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %d: %v", tt.method, tt.status, err)
		}
		resp.Body.Close()
		if want := map[bool]int32{false: 1, true: 2}[tt.retry]; calls.Load() != want || resp.StatusCode != tt.status {
			t.Errorf("%s (key %v) answered %d: %d attempts; want %d", tt.method, tt.key, tt.status, calls.Load(), want)
		}
	}
}

// A nil-valued Idempotency-Key marks a request idempotent without sending a
// key, as in net/http.
func TestRetryNilIdempotencyKey(t *testing.T) {
	var sent []string
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, strings.Join(r.Header.Values("Idempotency-Key"), ","))
		return &http.Response{StatusCode: 503, Body: http.NoBody, Request: r}, nil
	})
	req, _ := http.NewRequest(http.MethodPost, "https://a.test/", nil)
	req.Header["Idempotency-Key"] = nil
	resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero, AddIdempotencyKey: true}}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !reflect.DeepEqual(sent, []string{"", "", "", ""}) {
		t.Errorf("keys sent %q; want 4 attempts with no key", sent)
	}
}

// Connection errors: retried only when safe and transient; the exhausted
// error says how many attempts were made and wraps the last one.
func TestRetryConnectionErrors(t *testing.T) {
	tests := []struct {
		name   string
		method string
		key    bool
		err    error
		tries  int
	}{
		{"GET reset", "GET", false, io.ErrUnexpectedEOF, 4},
		{"POST reset", "POST", false, io.ErrUnexpectedEOF, 1},
		{"POST with key reset", "POST", true, io.ErrUnexpectedEOF, 4},
		{"bad certificate", "GET", false, fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), 1},
		{"bad scheme", "GET", false, errors.New(`unsupported protocol scheme "ftp"`), 1},
		{"cancelled", "GET", false, context.Canceled, 1},
		{"credential refused", "GET", false, fmt.Errorf("apiauth: auth: %w", errkind.InsecureTransport), 1},
		{"rate-limit layer fails fast", "GET", false, &RateLimitError{RetryAfter: time.Hour}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			base := testrt.Func(func(r *http.Request) (*http.Response, error) {
				calls++
				return nil, tt.err
			})
			req, _ := http.NewRequest(tt.method, "https://api.example.test/v1/files?token=s3cret", nil)
			if tt.key {
				req.Header.Set("Idempotency-Key", "k")
			}
			resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero}}).RoundTrip(req)
			if resp != nil || !errors.Is(err, tt.err) || calls != tt.tries {
				t.Fatalf("got %v, %v after %d calls; want an error wrapping %v after %d", resp, err, calls, tt.err, tt.tries)
			}
			if tt.tries > 1 {
				want := fmt.Sprintf("apiauth: retry: %s api.example.test/v1/files: failed after 4 attempts: ", tt.method)
				if !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q; want it to start %q", err, want)
				}
			} else if err != tt.err {
				t.Errorf("error %v not returned as the base returned it", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the query string", err)
			}
		})
	}
}

// When retries run out, the caller gets the last response with its body; the
// earlier ones were drained and closed.
func TestRetryExhaustedReturnsLastResponse(t *testing.T) {
	var calls atomic.Int32
	base, bodies := retryServe(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, `{"error":{"code":"UPSTREAM","message":"attempt %d"}}`, calls.Add(1))
	})
	resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero}}).RoundTrip(retryGet(t, context.Background(), "https://a.test/"))
	if err != nil {
		t.Fatalf("err = %v; want the last response and no error", err)
	}
	if got := retryReadBody(t, resp); resp.StatusCode != 502 || got != `{"error":{"code":"UPSTREAM","message":"attempt 4"}}` {
		t.Errorf("got %d %s; want the fourth 502", resp.StatusCode, got)
	}
	if c := bodies.closed(); !reflect.DeepEqual(c, []bool{true, true, true, true}) {
		t.Errorf("bodies closed: %v; want all four (three by the layer, one by us)", c)
	}
}

// The retried response is drained, so its connection is reused.
func TestRetryReusesConnection(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, strings.Repeat("busy ", 1000))
		}
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	resp, err := (&Retry{Base: srv.Client().Transport, RetryOptions: RetryOptions{Rand: retryZero}}).RoundTrip(retryGet(t, context.Background(), srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || conns.Load() != 1 {
		t.Errorf("status %d over %d connections; want 200 over 1", resp.StatusCode, conns.Load())
	}
}

// OnRetry sees each failed attempt and its wait: full jitter over a doubling,
// capped step.
func TestRetryOnRetryAndBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusGatewayTimeout)
		})
		type call struct {
			attempt int
			status  int
			wait    time.Duration
		}
		var calls []call
		rt := &Retry{Base: base, RetryOptions: RetryOptions{Rand: func() float64 { return 0.5 }, MaxAttempts: 6, MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, OnRetry: func(_ *http.Request, attempt int, resp *http.Response, err error, wait time.Duration) {
			calls = append(calls, call{attempt, resp.StatusCode, wait})
		}}}
		start := time.Now()
		resp, err := rt.RoundTrip(retryGet(t, context.Background(), "https://a.test/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := []call{{1, 504, 50 * time.Millisecond}, {2, 504, 100 * time.Millisecond},
			{3, 504, 200 * time.Millisecond}, {4, 504, 250 * time.Millisecond}, {5, 504, 250 * time.Millisecond}}
		if !reflect.DeepEqual(calls, want) {
			t.Errorf("OnRetry calls %v; want %v", calls, want)
		}
		if got := time.Since(start); got != 850*time.Millisecond {
			t.Errorf("waited %v in total; want 850ms", got)
		}
	})
}

// A custom Backoff replaces the default and gets the retry index and response.
func TestRetryCustomBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		var got []string
		rt := &Retry{Base: base, RetryOptions: RetryOptions{MaxAttempts: 3, Backoff: func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
			got = append(got, fmt.Sprintf("%v %v %d %d", min, max, attempt, resp.StatusCode))
			return time.Duration(attempt+1) * time.Second
		}}}
		start := time.Now()
		resp, _ := rt.RoundTrip(retryGet(t, context.Background(), "https://a.test/"))
		resp.Body.Close()
		if want := []string{"250ms 10s 0 502", "250ms 10s 1 502"}; !reflect.DeepEqual(got, want) || time.Since(start) != 3*time.Second {
			t.Errorf("Backoff calls %q over %v; want %q over 3s", got, time.Since(start), want)
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	minB, maxB := 250*time.Millisecond, 10*time.Second
	for attempt := range 70 {
		ceiling := min(maxB, minB<<min(attempt, 20))
		for range 20 {
			if d := DefaultBackoff(minB, maxB, attempt, nil); d < 0 || d >= ceiling {
				t.Fatalf("DefaultBackoff(attempt %d) = %v; want in [0, %v)", attempt, d, ceiling)
			}
		}
		if d := retryJitter(minB, maxB, attempt, func() float64 { return 0.999 }); d != time.Duration(0.999*float64(ceiling)) {
			t.Fatalf("jitter 0.999 at attempt %d = %v; want 0.999 × %v", attempt, d, ceiling)
		}
	}
	if d := retryJitter(minB, maxB, 0, func() float64 { return 7 }); d != minB {
		t.Errorf("a Rand above 1 gave %v; want it clamped to the ceiling %v", d, minB)
	}
}

// Log events name the request by method, host and path only.
func TestRetryLoggerRedacts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base, _ := retryServe(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		req := retryGet(t, context.Background(), "https://api.example.test/v1/files?api_key=sk_live_s3cret")
		req.Header.Set("Authorization", "Bearer sk_live_s3cret")
		resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Logger: logger}}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var ev map[string]any
		if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
			t.Fatalf("want one JSON event, got %q: %v", buf.String(), err)
		}
		want := map[string]any{"level": "DEBUG", "msg": "apiauth: retrying request", "method": "GET",
			"host": "api.example.test", "path": "/v1/files", "attempt": 1.0, "status": 429.0, "wait": float64(2 * time.Second)}
		for k, v := range want {
			if ev[k] != v {
				t.Errorf("event %s = %v; want %v", k, ev[k], v)
			}
		}
		if s := buf.String(); strings.Contains(s, "s3cret") || strings.Contains(s, "api_key") || strings.Contains(s, "Authorization") {
			t.Errorf("log line shows a secret, query or header: %s", s)
		}
	})
}

// Giving up although the policy wanted a retry is logged at Warn.
func TestRetryLoggerGiveUp(t *testing.T) {
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: http.NoBody, Request: r}, nil
	})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	resp, _ := (&Retry{Base: base, RetryOptions: RetryOptions{Logger: logger}}).RoundTrip(retryGet(t, context.Background(), "https://a.test/x?q=1"))
	resp.Body.Close()
	if s := buf.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "more than MaxWait") || strings.Contains(s, "q=1") {
		t.Errorf("log %q; want one Warn event naming MaxWait without the query", s)
	}
}

// The zero Retry works, over its own clone of http.DefaultTransport.
func TestRetryZeroValue(t *testing.T) {
	def := http.DefaultTransport.(*http.Transport)
	maxIdle, idleTimeout := def.MaxIdleConns, def.IdleConnTimeout
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var rt Retry
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: &rt}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls.Load() != 2 {
		t.Errorf("status %d after %d calls; want 200 after 2", resp.StatusCode, calls.Load())
	}
	if rt.base() == http.DefaultTransport {
		t.Error("the zero Retry sends through http.DefaultTransport itself; want a clone")
	}
	if http.DefaultTransport != def || def.MaxIdleConns != maxIdle || def.IdleConnTimeout != idleTimeout {
		t.Error("http.DefaultTransport was modified")
	}
}

// The defaults stated in the field documentation are the code's.
func TestRetryDocumentedDefaults(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range []string{"retry.go", "budget.go"} {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/apiauth/apiauth/transport")
	if err != nil {
		t.Fatal(err)
	}
	fieldDocs := map[string]string{}
	typeDocs := map[string]string{}
	for _, typ := range pkg.Types {
		typeDocs[typ.Name] = typ.Doc
		for _, spec := range typ.Decl.Specs {
			st, ok := spec.(*ast.TypeSpec).Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, n := range f.Names {
					fieldDocs[typ.Name+"."+n.Name] = f.Doc.Text()
				}
			}
		}
	}
	want := map[string]string{
		"RetryOptions.MaxAttempts":     fmt.Sprintf("Zero means %d ", DefaultRetryMaxAttempts),
		"RetryOptions.MinBackoff":      fmt.Sprintf("Zero means %v;", time.Duration(DefaultRetryMinBackoff)),
		"RetryOptions.MaxBackoff":      fmt.Sprintf("Zero means %v;", time.Duration(DefaultRetryMaxBackoff)),
		"RetryOptions.MaxWait":         fmt.Sprintf("Zero means %ds;", DefaultRetryMaxWait/time.Second),
		"RetryOptions.MaxBufferedBody": fmt.Sprintf("Zero means\n%d MiB;", DefaultRetryMaxBufferedBody>>20),
		"RetryOptions.Budget":          fmt.Sprintf("(%d tokens, %d per retry, %d per retry after\na timeout)", DefaultBudgetCapacity, DefaultBudgetRetryCost, DefaultBudgetTimeoutCost),
		"RetryBudget.Capacity":         fmt.Sprintf("Zero means %d.", DefaultBudgetCapacity),
		"RetryBudget.RetryCost":        fmt.Sprintf("Zero means %d.", DefaultBudgetRetryCost),
		"RetryBudget.TimeoutCost":      fmt.Sprintf("Zero means %d.", DefaultBudgetTimeoutCost),
		"RetryBudget.SuccessRefund":    fmt.Sprintf("Zero means %d.", DefaultBudgetRefund),
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for field, text := range want {
		if !strings.Contains(flat(fieldDocs[field]), flat(text)) {
			t.Errorf("doc of %s does not state %q:\n%s", field, text, fieldDocs[field])
		}
	}
	limit := DefaultBudgetCapacity / DefaultBudgetRetryCost // retries a failing server gets from a full budget
	if !strings.Contains(flat(typeDocs["RetryBudget"]), fmt.Sprintf("at most %d retries", limit)) {
		t.Errorf("RetryBudget doc does not state %d retries", limit)
	}
	if !strings.Contains(flat(typeDocs["Retry"]), fmt.Sprintf("first %d KiB", retryPeekLimit>>10)) ||
		!strings.Contains(flat(typeDocs["Retry"]), fmt.Sprintf("(up to %d KiB)", retryDrainLimit>>10)) {
		t.Error("Retry doc does not state the 64 KiB peek and drain limits")
	}
}
