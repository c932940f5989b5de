package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/testrt"
)

// The fault matrix of the transport layers on their own: Retry over Auth
// over a real http.Transport, against raw httptest servers that misbehave.
// Every row checks the RoundTripper contract (a response or an error, never
// both; the caller's request unchanged and its body closed), the number of
// requests the server received, bounded memory and no goroutine left.

// faultCred is a renewable bearer credential that counts its renewals, or
// fails with err when set.
type faultCred struct {
	err     error
	renewed atomic.Int32
}

func (c *faultCred) Apply(_ context.Context, h http.Header) (any, error) {
	if c.err != nil {
		return nil, c.err
	}
	h.Set("Authorization", fmt.Sprintf("Bearer tok-%d", c.renewed.Load()))
	return c.renewed.Load(), nil
}

func (c *faultCred) InvalidateCredential(any) bool { c.renewed.Add(1); return true }

// faultKindErr is a failure of another layer that matches a sentinel kind
// through an Is method while wrapping a network error, as the root
// package's *RefreshError does.
type faultKindErr struct{ cause error }

func (e *faultKindErr) Error() string        { return "apiauth: token refresh failed: " + e.cause.Error() }
func (e *faultKindErr) Is(target error) bool { return target == errkind.TokenRefresh }
func (e *faultKindErr) Unwrap() error        { return e.cause }

// faultBody is a request body that records whether it was closed.
type faultBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *faultBody) Close() error { b.closed.Store(true); return nil }

// faultResetConn hijacks w's connection, writes raw, and resets it.
func faultResetConn(w http.ResponseWriter, raw string) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if raw != "" {
		io.WriteString(conn, raw)
		time.Sleep(20 * time.Millisecond)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// faultEndless writes status and a body of up to 64 MiB.
func faultEndless(w http.ResponseWriter, status int) {
	w.WriteHeader(status)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for n := 0; n < 64<<20; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func TestTransportFaults(t *testing.T) {
	type outcome struct {
		resp    *http.Response
		err     error
		attempt int32 // RoundTrips that reached Auth
	}
	tests := []struct {
		name    string
		handler func(n int64, w http.ResponseWriter, r *http.Request) // n counts requests from 1
		cred    *faultCred
		method  string
		key     bool   // send an Idempotency-Key
		url     string // overrides the server's URL
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		// want: the status of the response, or 0 for an error matching wantErr.
		status  int
		wantErr func(error) bool
		sends   int64 // requests the server must receive
		auths   int32 // RoundTrips Auth must see (from Retry); 0 means not checked
		readErr bool  // reading the response body must fail
		check   func(t *testing.T, o outcome)
	}{
		{
			name: "credential refused over plain http is not retried",
			url:  "http://api.example.test/v1/files", method: "GET",
			wantErr: func(err error) bool { var ie *InsecureError; return errors.As(err, &ie) },
			sends:   0, auths: 1,
		},
		{
			name: "another layer's failure wrapping a network error is not retried",
			cred: &faultCred{err: &faultKindErr{syscall.ECONNREFUSED}}, method: "GET",
			wantErr: func(err error) bool {
				return errors.Is(err, errkind.TokenRefresh) && errors.Is(err, syscall.ECONNREFUSED)
			},
			sends: 0, auths: 1,
		},
		{
			name: "reset before the answer, POST without key: sent once",
			handler: func(_ int64, w http.ResponseWriter, _ *http.Request) {
				faultResetConn(w, "")
			},
			method: "POST",
			// The reset may reach the client while it still writes the
			// body: then it shows as a write on a closed connection or a
			// broken pipe. Any of them; what matters is one send.
			wantErr: func(err error) bool {
				return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
					errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE)
			},
			sends: 1, auths: 1,
		},
		{
			name: "reset before the answer, POST with key: sent again with the same body",
			handler: func(n int64, w http.ResponseWriter, r *http.Request) {
				if b, _ := io.ReadAll(r.Body); string(b) != `{"name":"ci"}` {
					w.WriteHeader(400)
					return
				}
				if n == 1 {
					faultResetConn(w, "")
					return
				}
				w.WriteHeader(201)
			},
			method: "POST", key: true, status: 201, sends: 2, auths: 2,
		},
		{
			name: "reset in the middle of the body: the response, then a read error",
			handler: func(_ int64, w http.ResponseWriter, _ *http.Request) {
				faultResetConn(w, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
			},
			method: "GET", status: 200, sends: 1, auths: 1, readErr: true,
		},
		{
			name: "401 with an endless body: drained 4 KiB, renewed once, sent again",
			handler: func(n int64, w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "Bearer tok-0" {
					faultEndless(w, 401)
					return
				}
				w.WriteHeader(200)
			},
			cred: &faultCred{}, method: "GET", status: 200, sends: 2, auths: 1,
		},
		{
			name: "429 storm with endless bodies: peeks and drains are bounded",
			handler: func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "0")
				faultEndless(w, 429)
			},
			method: "POST", status: 429, sends: 4, auths: 4,
		},
		{
			name: "503 storm, POST without key: the 503, sent once",
			handler: func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(503)
			},
			method: "POST", status: 503, sends: 1, auths: 1,
		},
		{
			name: "headers slower than the context deadline: not retried",
			handler: func(_ int64, w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) // net/http notices a gone client only after the body
				<-r.Context().Done()
			},
			method: "GET",
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 50*time.Millisecond)
			},
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
			sends:   1, auths: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			var sends atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := sends.Add(1)
				if tt.handler != nil {
					tt.handler(n, w, r)
				}
			}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.Start()
			t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)

			target := srv.URL + "/v1/files?key=secret"
			if tt.url != "" {
				target = tt.url
			}
			var cred Credential = &faultCred{}
			if tt.cred != nil {
				cred = tt.cred
			}
			auth := &Auth{Base: base, AuthOptions: AuthOptions{Credential: cred, Origin: target}}
			var auths atomic.Int32
			retry := &Retry{Base: testrt.Func(func(r *http.Request) (*http.Response, error) {
				auths.Add(1)
				return auth.RoundTrip(r)
			}), RetryOptions: RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}}

			ctx := context.Background()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx(ctx)
				defer cancel()
			}
			body := &faultBody{Reader: strings.NewReader(`{"name":"ci"}`)}
			req, err := http.NewRequestWithContext(ctx, tt.method, target, body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(`{"name":"ci"}`))
			if tt.key {
				req.Header.Set("Idempotency-Key", "key-1")
			}
			before := req.Header.Clone()

			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			resp, err := retry.RoundTrip(req)
			o := outcome{resp: resp, err: err, attempt: auths.Load()}
			if resp != nil {
				_, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if tt.readErr != (rerr != nil) {
					t.Errorf("reading the body: %v, want an error: %v", rerr, tt.readErr)
				}
			}
			runtime.ReadMemStats(&m1)

			switch {
			case (resp == nil) == (err == nil):
				t.Fatalf("RoundTrip returned response %v and error %v", resp, err)
			case tt.wantErr != nil:
				if err == nil || !tt.wantErr(err) {
					t.Errorf("got %v (status %v), want a matching error", err, resp)
				}
			case err != nil:
				t.Errorf("got error %v, want status %d", err, tt.status)
			case resp.StatusCode != tt.status:
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the query string: %v", err)
			}
			if got := sends.Load(); got != tt.sends {
				t.Errorf("server received %d requests, want %d", got, tt.sends)
			}
			if tt.auths != 0 && o.attempt != tt.auths {
				t.Errorf("Auth saw %d attempts, want %d", o.attempt, tt.auths)
			}
			// RoundTrip may close the body from another goroutine after it
			// returns (the http.RoundTripper contract; net/http's write
			// loop does): wait for it, boundedly.
			for i := 0; i < 200 && !body.closed.Load(); i++ {
				time.Sleep(5 * time.Millisecond)
			}
			if !body.closed.Load() {
				t.Error("the request body was not closed within 1 s")
			}
			if !headersEqual(before, req.Header) {
				t.Errorf("the caller's headers changed: %v -> %v", before, req.Header)
			}
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 16<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestTransportConcurrentFaults sends many requests at once through one
// Retry over Auth while the server answers 401, 429, 503 and resets at
// random: every request ends with a response or an error, never both, and
// the server's count equals the attempts the layers made.
func TestTransportConcurrentFaults(t *testing.T) {
	var sends atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch sends.Add(1) % 7 {
		case 1:
			w.WriteHeader(401)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		case 3:
			w.WriteHeader(503)
		default:
			w.WriteHeader(200)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	var baseCalls atomic.Int64
	cred := &faultCred{}
	auth := &Auth{Base: testrt.Func(func(r *http.Request) (*http.Response, error) {
		baseCalls.Add(1)
		return base.RoundTrip(r)
	}), AuthOptions: AuthOptions{Credential: cred, Origin: srv.URL}}
	retry := &Retry{Base: auth, RetryOptions: RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, DisableBudget: true}}

	const workers, each = 16, 25
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				req, _ := http.NewRequest("GET", srv.URL+"/v1/files", nil)
				resp, err := retry.RoundTrip(req)
				if (resp == nil) == (err == nil) {
					t.Errorf("response %v and error %v", resp, err)
					return
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load()+failed.Load() != workers*each {
		t.Errorf("%d responses + %d errors, want %d requests accounted for", ok.Load(), failed.Load(), workers*each)
	}
	if got, want := sends.Load(), baseCalls.Load(); got != want {
		t.Errorf("server received %d requests, the layers sent %d", got, want)
	}
}
