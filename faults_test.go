package apiauth_test

import (
	"context"
	"encoding/json"
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
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/testrt"
	"github.com/apiauth/apiauth/transport"
)

// This file is the fault matrix: what the whole stack (Client, TokenCache,
// the token sources, the retry and auth layers) does when the network or a
// server misbehaves. Each row of TestFaultMatrix names a fault and the
// outcome it must have: success, or an error of a given type; the exact
// number of requests the API and the token endpoint received (nothing that
// must not be sent twice is); and, for every row, bounded time and memory
// and no goroutine left behind. Run it with -v to print the table.

// fltBound is how long any row may take: every fault must end, in success
// or an error, well before the test binary's own timeout.
const fltBound = 15 * time.Second

// fltMaxAlloc bounds what one call may allocate, fltMaxRetained what a
// row may leave on the heap: an endless body must not be read into memory,
// and nothing may pile up.
const (
	fltMaxAlloc    = 32 << 20
	fltPerCall     = 64 << 10
	fltMaxRetained = 16 << 20
)

// fltOutcome is what a row observed.
type fltOutcome struct {
	err error
	// note adds what the row measured to the printed table.
	note string
	// calls is the number of calls the row made, when more than one.
	calls int
}

// fltMatch is one property the error must have.
type fltMatch struct {
	name string
	ok   func(error) bool
}

func fltIs(target error, name string) fltMatch {
	return fltMatch{name, func(err error) bool { return errors.Is(err, target) }}
}

func fltAs[T error](name string) fltMatch {
	return fltMatch{name, func(err error) bool { var v T; return errors.As(err, &v) }}
}

func fltStatus(code int) fltMatch {
	return fltMatch{fmt.Sprintf("*apiauth.Error{StatusCode: %d}", code), func(err error) bool {
		var e *apiauth.Error
		return errors.As(err, &e) && e.StatusCode == code
	}}
}

// fltConnErr matches a broken connection: a reset, or a stream that ended
// early.
var fltConnErr = fltMatch{"connection error (ECONNRESET or unexpected EOF)", func(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}}

// fltSecrets are the credentials the rows use; no error may show them.
var fltSecrets = []string{
	apiauthtest.AudiModalLiveKey, apiauthtest.AudiModalTestKey, apiauthtest.VoltasisAdminKey,
	apiauthtest.VoltasisAPIKey, apiauthtest.ArtanisAPIKey, apiauthtest.AudiModalPassword, "eyJ", fltOpaque,
}

const fltOpaque = "opaque-0123456789abcdef"

// fltServer is a loopback server that counts what reaches it: API requests
// and token requests (Artos POST /get-access-token, AudiModal login and
// refresh), and the Idempotency-Key of each API request.
type fltServer struct {
	*httptest.Server
	api, token atomic.Int64
	mu         sync.Mutex
	keys       []string
}

func fltIsToken(path string) bool {
	return strings.HasSuffix(path, "/get-access-token") || strings.HasSuffix(path, "/v1/auth/login") ||
		strings.HasSuffix(path, "/v1/auth/refresh")
}

func fltServe(t *testing.T, h http.Handler) *fltServer {
	s := &fltServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fltIsToken(r.URL.Path) {
			s.token.Add(1)
		} else {
			s.api.Add(1)
			s.mu.Lock()
			s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Start()
	t.Cleanup(func() {
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// fltFake starts an apiauthtest fake behind a counting server; handlers in
// extra take precedence over the fake for their patterns.
func fltFake(t *testing.T, cfg apiauthtest.Config, extra map[string]http.HandlerFunc) (*apiauthtest.Server, *fltServer) {
	cfg.PlainHTTP = true
	fk := apiauthtest.Start(cfg)
	mux := http.NewServeMux()
	mux.Handle("/", fk)
	for p, h := range extra {
		mux.Handle(p, h)
	}
	s := fltServe(t, mux)
	// Runs before the server's Close: releases requests held by a Hang.
	t.Cleanup(fk.Close)
	return fk, s
}

// fltTransport returns a transport of the row's own, whose idle connections
// are closed when the row ends.
func fltTransport(t *testing.T) *http.Transport {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// fltClient returns a client of base with fast retries (1 to 5 ms of
// backoff) unless o says otherwise.
func fltClient(t *testing.T, base string, cred transport.Credential, o apiauth.ClientOptions) *apiauth.Client {
	t.Helper()
	if o.Base == nil {
		o.Base = fltTransport(t)
	}
	if o.Retry.MinBackoff == 0 && o.Retry.MaxBackoff == 0 {
		o.Retry.MinBackoff, o.Retry.MaxBackoff = time.Millisecond, 5*time.Millisecond
	}
	c, err := apiauth.NewClient(base, cred, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fltArtosCache returns a token cache over the Artos token endpoint at
// base+"/get-access-token".
func fltArtosCache(t *testing.T, base string, o apiauth.CacheOptions) *apiauth.TokenCache {
	t.Helper()
	src, err := apiauth.NewTokenEndpoint(base+"/get-access-token", apiauthtest.ArtosUserID,
		&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: fltTransport(t)}})
	if err != nil {
		t.Fatal(err)
	}
	c := apiauth.NewTokenCache(src, &o)
	t.Cleanup(func() { c.Close() })
	return c
}

func fltStatic(t *testing.T, secret string) apiauth.StaticToken {
	tok, err := apiauth.NewStaticToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func fltKey(t *testing.T, secret string) apiauth.APIKey {
	k, err := apiauth.ParseAPIKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fltJSON answers status with body as application/json.
func fltJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// fltEndless answers status with a JSON array that never ends (in
// practice: 64 MiB, so that a reader without a bound fails the memory
// check rather than the machine).
func fltEndless(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, "[")
		chunk := []byte(strings.Repeat("0,", 16<<10))
		for n := 0; n < 64<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// fltHijack takes the raw connection of w, writes raw to it, waits a
// little for the client to read it, and resets the connection (TCP RST).
func fltHijack(w http.ResponseWriter, raw string) {
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

// fltBlock signals entered (once, without blocking) and waits for the
// client to give up. It reads the request body first: net/http notices a
// client that hangs up only once the body has been read.
func fltBlock(entered chan struct{}, before func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if before != nil {
			before(w)
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}
}

// fltCancelOn cancels when entered is signalled, or gives up with ctx.
func fltCancelOn(ctx context.Context, entered chan struct{}, cancel context.CancelFunc) {
	go func() {
		select {
		case <-entered:
			cancel()
		case <-ctx.Done():
		}
	}()
}

type fltCase struct {
	name string
	// want is the outcome, as the printed table states it.
	want string
	// match lists what the error must match; nil means success.
	match []fltMatch
	// api and token are the exact numbers of API and token requests the
	// server must receive; -1 means not asserted.
	api, token int64
	// call is the row as data: most rows are one call against a server
	// with a fault. run is for the rows that need more (loops over hours of
	// fake time, cancellation at a chosen moment); a row sets one of them.
	call *fltCall
	run  func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome
}

// fltCall describes a row as data: the server it talks to, the client it
// builds, and the one call it makes.
type fltCall struct {
	// handler, if set, is the whole server. Else the server is the
	// in-process fake, with apiFault on its next API requests, tokenFault
	// on its next token requests, and extra handlers taking precedence.
	handler              http.Handler
	apiFault, tokenFault fltFaults
	extra                map[string]http.HandlerFunc
	// family is the fake's mount the client's base URL points at ("artos",
	// "audimodal", "voltasis"); empty is the server's root.
	family string
	cred   fltCred
	cache  apiauth.CacheOptions // for fltArtos
	opts   apiauth.ClientOptions
	// method (GET when empty), path and body make the request; decode, if
	// set, returns a fresh value to decode the answer into.
	method, path string
	body         any
	decode       func() any
	// check makes the row's further assertions, on the server and on what
	// the call returned.
	check func(t *testing.T, srv *fltServer, out any, err error)
}

// fltFaults is a fault for the next n requests.
type fltFaults struct {
	n int
	f apiauthtest.Fault
}

// fltCred names a row's credential.
type fltCred int

const (
	fltNoCred        fltCred = iota
	fltAudiKey               // AudiModal's live API key
	fltVoltasisAdmin         // Voltasis' admin key, as a bearer token
	fltOpaqueToken           // fltOpaque, as a bearer token
	fltArtos                 // a TokenCache over the server's Artos token endpoint
)

// exec runs the row's call.
func (c *fltCall) exec(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
	var srv *fltServer
	if c.handler != nil {
		srv = fltServe(t, c.handler)
	} else {
		var fk *apiauthtest.Server
		fk, srv = fltFake(t, apiauthtest.Config{}, c.extra)
		if c.apiFault.n > 0 {
			fk.FailRequests(c.apiFault.n, c.apiFault.f)
		}
		if c.tokenFault.n > 0 {
			fk.FailTokenRequests(c.tokenFault.n, c.tokenFault.f)
		}
	}
	*s = srv
	base := srv.URL
	if c.family != "" {
		base += "/" + c.family
	}
	var cred transport.Credential
	switch c.cred {
	case fltAudiKey:
		cred = fltKey(t, apiauthtest.AudiModalLiveKey)
	case fltVoltasisAdmin:
		cred = fltStatic(t, apiauthtest.VoltasisAdminKey)
	case fltOpaqueToken:
		cred = fltStatic(t, fltOpaque)
	case fltArtos:
		cred = fltArtosCache(t, base, c.cache)
	}
	client := fltClient(t, base, cred, c.opts)
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := client.NewRequest(ctx, method, c.path, c.body)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if c.decode != nil {
		out = c.decode()
	}
	_, err = client.Do(req, out)
	if c.check != nil {
		c.check(t, srv, out, err)
	}
	return fltOutcome{err: err}
}

// TestFaultMatrix runs every fault case through the public API and checks
// its outcome, the requests it cost, and that it ended in bounded time and
// memory without leaving a goroutine behind.
func TestFaultMatrix(t *testing.T) {
	var table []string
	for _, tc := range fltCases() {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithTimeout(context.Background(), fltBound)
			defer cancel()
			start := time.Now()
			var srv *fltServer
			var out fltOutcome
			if tc.call != nil {
				out = tc.call.exec(t, ctx, &srv)
			} else {
				out = tc.run(t, ctx, &srv)
			}
			elapsed := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)

			if elapsed > fltBound {
				t.Errorf("took %s, more than %s", elapsed, fltBound)
			}
			limit := uint64(fltMaxAlloc)
			if out.calls > 1 {
				limit = uint64(out.calls) * fltPerCall
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
				t.Errorf("allocated %d MiB, more than %d MiB", alloc>>20, limit>>20)
			}
			if after.HeapAlloc > before.HeapAlloc && after.HeapAlloc-before.HeapAlloc > fltMaxRetained {
				t.Errorf("heap grew by %d MiB", (after.HeapAlloc-before.HeapAlloc)>>20)
			}
			if tc.match == nil && out.err != nil {
				t.Errorf("want success, got %v", out.err)
			}
			if tc.match != nil {
				if out.err == nil {
					t.Fatalf("want an error (%s), got success", tc.want)
				}
				for _, m := range tc.match {
					if !m.ok(out.err) {
						t.Errorf("error does not match %s: %v (%T)", m.name, out.err, out.err)
					}
				}
				fltCheckError(t, out.err)
			}
			var api, token int64
			if srv != nil {
				api, token = srv.api.Load(), srv.token.Load()
			}
			if tc.api >= 0 && api != tc.api {
				t.Errorf("API received %d requests, want %d", api, tc.api)
			}
			if tc.token >= 0 && token != tc.token {
				t.Errorf("token endpoint received %d requests, want %d", token, tc.token)
			}
			got := "ok"
			if out.err != nil {
				got = out.err.Error()
			}
			counted := fmt.Sprintf("api %d, token %d", api, token)
			if srv == nil {
				counted = "in process"
			}
			row := fmt.Sprintf("| %s | %s | %s%s |", tc.name, tc.want, counted, out.note)
			table = append(table, row)
			t.Logf("outcome: %s", got)
		})
	}
	t.Logf("fault table:\n| case | outcome | requests received |\n|---|---|---|\n%s", strings.Join(table, "\n"))
}

// fltCheckError checks what every error of the SDK must be: a message that
// starts with "apiauth: " and shows no secret, also under %+v.
func fltCheckError(t *testing.T, err error) {
	t.Helper()
	for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, s := range fltSecrets {
			if strings.Contains(form, s) {
				t.Errorf("error shows secret %q: %s", s, form)
			}
		}
	}
	if !strings.HasPrefix(err.Error(), "apiauth: ") {
		t.Errorf("error %q does not start with apiauth: ", err)
	}
}

// fltClockRun calls the Artos fake, in process and inside a synctest
// bubble, every two minutes for five hours, with the server's clock offset
// set by offset(elapsed), and reports the first error and the counters.
func fltClockRun(t *testing.T, offset func(elapsed time.Duration) time.Duration) (calls int, st apiauthtest.FamilyStats, err error) {
	fk := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, Now: time.Now, ArtosTokenTTL: time.Hour})
	defer fk.Close()
	synctest.Test(t, func(t *testing.T) {
		rt := fltInProcess{fk}
		src, _ := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID,
			&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: rt}})
		cache := apiauth.NewTokenCache(src, nil)
		defer cache.Close()
		client := fltClient(t, fk.URL(apiauthtest.Artos), cache, apiauth.ClientOptions{Base: rt})
		for elapsed := time.Duration(0); elapsed < 5*time.Hour; elapsed += 2 * time.Minute {
			fk.SetClockOffset(offset(elapsed))
			if _, cerr := client.Get(context.Background(), "api/v1/documents/", nil); cerr != nil && err == nil {
				err = cerr
			}
			calls++
			time.Sleep(2 * time.Minute)
		}
		st = fk.Stats().Artos
	})
	return calls, st, err
}

// fltInProcess serves requests by calling a handler directly, so that
// code inside a synctest bubble can reach a fake without a socket.
type fltInProcess struct{ h http.Handler }

func (rt fltInProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	var body io.Reader
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = strings.NewReader(string(b))
	}
	sr := httptest.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), body)
	sr.Header = req.Header.Clone()
	rec := httptest.NewRecorder()
	rt.h.ServeHTTP(rec, sr)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// fltCases is the whole matrix: the rows below, then the hostile-server
// rows (issue 13), each family of them in a file of its own.
func fltCases() []fltCase {
	var all []fltCase
	for _, rows := range [][]fltCase{fltBaseCases(), fltHeaderCases(), fltTokenCases(), fltFleetBodyCases(), fltSecretLimitCases()} {
		all = append(all, rows...)
	}
	return all
}

func fltBaseCases() []fltCase {
	artos := func(s *fltServer) string { return s.URL + "/artos" }
	audimodal := func(s *fltServer) string { return s.URL + "/audimodal" }
	newKey := map[string]any{"name": "ci", "scopes": []string{apiauthtest.VoltasisReadUsersScope}}
	reset := apiauthtest.Fault{ResetConnection: true}
	storm := apiauthtest.Fault{Status: http.StatusServiceUnavailable}

	return []fltCase{
		// Connection resets.
		{
			name: "reset before the answer, GET",
			want: "success: retried once", api: 2, token: 0,
			call: &fltCall{apiFault: fltFaults{1, reset}, family: "audimodal", cred: fltAudiKey, path: "v1/files"},
		},
		{
			name: "reset before the answer, POST without Idempotency-Key",
			want: "connection error, sent exactly once", match: []fltMatch{fltConnErr}, api: 1, token: 0,
			call: &fltCall{apiFault: fltFaults{1, reset}, family: "voltasis", cred: fltVoltasisAdmin, method: "POST", path: "api/v1/api-keys", body: newKey},
		},
		{
			name: "reset before the answer, POST with Idempotency-Key",
			want: "success: sent twice with the same key", api: 2, token: 0,
			call: &fltCall{apiFault: fltFaults{1, reset}, family: "voltasis", cred: fltVoltasisAdmin, method: "POST", path: "api/v1/api-keys", body: newKey,
				opts: apiauth.ClientOptions{Retry: transport.RetryOptions{AddIdempotencyKey: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}},
				check: func(t *testing.T, srv *fltServer, _ any, _ error) {
					srv.mu.Lock()
					defer srv.mu.Unlock()
					if len(srv.keys) != 2 || srv.keys[0] == "" || srv.keys[0] != srv.keys[1] {
						t.Errorf("Idempotency-Key per attempt: %q, want one key sent twice", srv.keys)
					}
				}},
		},
		{
			name: "reset in the middle of the body, GET decoding JSON",
			want: "connection error (the answer had begun: not retried)", match: []fltMatch{fltConnErr}, api: 1, token: 0,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fltHijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"id\":\"file_1\"},")
			}), cred: fltOpaqueToken, path: "v1/files", decode: func() any { return &[]map[string]any{} }},
		},
		{
			name: "reset in the middle of the token endpoint's answer",
			want: "ErrTokenRefresh wrapping the connection error; the API is not called", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltConnErr}, api: 0, token: 1,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fltHijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"access_token\":\"eyJhbGciOiJIUzI1NiIs")
			}), cred: fltArtos, path: "api/v1/documents/"},
		},

		// Slow servers.
		{
			name: "answer headers slower than ClientOptions.Timeout",
			want: "timeout (context.DeadlineExceeded, net.Error Timeout), not retried", match: []fltMatch{fltIs(context.DeadlineExceeded, "context.DeadlineExceeded"), fltAs[net.Error]("net.Error")}, api: 1, token: 0,
			call: &fltCall{handler: fltBlock(make(chan struct{}, 1), nil), cred: fltOpaqueToken, path: "v1/files",
				opts: apiauth.ClientOptions{Timeout: 100 * time.Millisecond},
				check: func(t *testing.T, _ *fltServer, _ any, err error) {
					var ne net.Error
					if errors.As(err, &ne) && !ne.Timeout() {
						t.Errorf("net.Error.Timeout() = false")
					}
				}},
		},
		{
			name: "token endpoint slower than CacheOptions.RefreshTimeout",
			want: "ErrTokenRefresh wrapping context.DeadlineExceeded; the API is not called", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltIs(context.DeadlineExceeded, "context.DeadlineExceeded")}, api: 0, token: 1,
			call: &fltCall{tokenFault: fltFaults{1, apiauthtest.Fault{Hang: true}}, family: "artos", cred: fltArtos,
				cache: apiauth.CacheOptions{RefreshTimeout: 100 * time.Millisecond}, path: "api/v1/documents/"},
		},

		// 5xx storms.
		{
			name: "503 storm, GET",
			want: "ErrServer (503) after MaxAttempts (4)", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer"), fltStatus(503)}, api: 4, token: 0,
			call: &fltCall{apiFault: fltFaults{100, storm}, family: "audimodal", cred: fltAudiKey, path: "v1/files"},
		},
		{
			name: "503 storm, POST without Idempotency-Key",
			want: "ErrServer (503), sent exactly once", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer"), fltStatus(503)}, api: 1, token: 0,
			call: &fltCall{apiFault: fltFaults{100, storm}, family: "voltasis", cred: fltVoltasisAdmin, method: "POST", path: "api/v1/api-keys", body: newKey},
		},
		{
			name: "503 storm, POST with Idempotency-Key",
			want: "ErrServer (503) after 4 attempts, one key", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer")}, api: 4, token: 0,
			call: &fltCall{apiFault: fltFaults{100, storm}, family: "voltasis", cred: fltVoltasisAdmin, method: "POST", path: "api/v1/api-keys", body: newKey,
				opts: apiauth.ClientOptions{Retry: transport.RetryOptions{AddIdempotencyKey: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}},
				check: func(t *testing.T, srv *fltServer, _ any, _ error) {
					srv.mu.Lock()
					defer srv.mu.Unlock()
					for _, k := range srv.keys {
						if k == "" || k != srv.keys[0] {
							t.Errorf("Idempotency-Key per attempt: %q, want one key", srv.keys)
							break
						}
					}
				}},
		},
		{
			name: "503 asking Retry-After: 3600, past MaxWait",
			want: "ErrServer (503) at once, RetryAfter 1h", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer"), {"RetryAfter == 1h", func(err error) bool {
				var e *apiauth.Error
				return errors.As(err, &e) && e.RetryAfter == time.Hour
			}}}, api: 1, token: 0,
			call: &fltCall{apiFault: fltFaults{100, apiauthtest.Fault{Status: 503, RetryAfter: time.Hour}}, family: "audimodal", cred: fltAudiKey, path: "v1/files"},
		},
		{
			name: "500 storm over 120 GETs",
			want: "ErrServer for each; the retry budget caps the retries at 100", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer")}, api: 120 + 100, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltJSON(500, `{"error":{"code":"INTERNAL","message":"boom"}}`))
				*s = srv
				c := fltClient(t, srv.URL, fltStatic(t, fltOpaque), apiauth.ClientOptions{})
				var last error
				for range 120 {
					_, err := c.Get(ctx, "v1/files", nil)
					if !errors.Is(err, apiauth.ErrServer) {
						t.Fatalf("got %v, want ErrServer", err)
					}
					last = err
				}
				return fltOutcome{err: last, calls: 120, note: " (4 attempts each would be 480)"}
			},
		},
		{
			name: "429 storm, POST without Idempotency-Key",
			want: "ErrRateLimited (*RateLimitError) after 4 attempts: a 429 was not processed, so it is retried", match: []fltMatch{fltIs(apiauth.ErrRateLimited, "ErrRateLimited"), fltAs[*apiauth.RateLimitError]("*apiauth.RateLimitError")}, api: 4, token: 0,
			call: &fltCall{handler: fltJSON(429, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":0}}`),
				cred: fltAudiKey, method: "POST", path: "v1/auth/ip-allowlist", body: map[string]any{"allowed_ips": []string{"10.0.0.1"}}},
		},

		// Endless bodies.
		{
			name: "endless 200 body, GET decoding JSON",
			want: "*http.MaxBytesError at ClientOptions.MaxResponseBody; memory bounded", match: []fltMatch{fltAs[*http.MaxBytesError]("*http.MaxBytesError")}, api: 1, token: 0,
			call: &fltCall{handler: fltEndless(200), cred: fltOpaqueToken, path: "v1/files",
				opts: apiauth.ClientOptions{MaxResponseBody: 1 << 20}, decode: func() any { return &[]int{} }},
		},
		{
			name: "endless 200 body, GET discarding the answer",
			want: "success: 64 KiB drained, connection dropped", api: 1, token: 0,
			call: &fltCall{handler: fltEndless(200), cred: fltOpaqueToken, path: "v1/files"},
		},
		{
			name: "endless 500 body",
			want: "ErrServer (500) after 4 attempts; each error body read up to its cap", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer"), fltStatus(500)}, api: 4, token: 0,
			call: &fltCall{handler: fltEndless(500), cred: fltOpaqueToken, path: "v1/files",
				check: func(t *testing.T, _ *fltServer, _ any, err error) {
					var e *apiauth.Error
					if errors.As(err, &e) && len(e.Body) != apiauth.DefaultMaxErrorBody {
						t.Errorf("error body kept %d bytes, want the %d-byte cap", len(e.Body), apiauth.DefaultMaxErrorBody)
					}
				}},
		},
		{
			name: "endless token endpoint answer",
			want: "ErrTokenRefresh (answer larger than 64 KiB); the API is not called", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh")}, api: 0, token: 1,
			call: &fltCall{handler: fltEndless(200), cred: fltArtos, path: "api/v1/documents/"},
		},

		// Invalid JSON and wrong Content-Type.
		{
			name: "truncated JSON in a 200, GET decoding JSON",
			want: "io.ErrUnexpectedEOF (decoding response), not retried", match: []fltMatch{fltIs(io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF")}, api: 1, token: 0,
			call: &fltCall{apiFault: fltFaults{1, apiauthtest.Fault{MalformedJSON: true}}, family: "audimodal", cred: fltAudiKey, path: "v1/files",
				decode: func() any { return &[]apiauthtest.AudiModalFile{} }},
		},
		{
			name: "truncated JSON from the token endpoint",
			want: "ErrTokenRefresh; the token fragment is not shown", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltAs[*json.SyntaxError]("*json.SyntaxError")}, api: 0, token: 1,
			call: &fltCall{tokenFault: fltFaults{1, apiauthtest.Fault{MalformedJSON: true}}, family: "artos", cred: fltArtos, path: "api/v1/documents/"},
		},
		{
			name: "200 text/html to a GET decoding JSON",
			want: "*json.SyntaxError (decoding response)", match: []fltMatch{fltAs[*json.SyntaxError]("*json.SyntaxError")}, api: 1, token: 0,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>Sign in</body></html>")
			}), cred: fltOpaqueToken, path: "v1/files", decode: func() any { return &map[string]any{} }},
		},
		{
			name: "200 text/plain holding valid JSON",
			want: "success: the Content-Type is not enforced", api: 1, token: 0,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, `{"ok":true}`)
			}), cred: fltOpaqueToken, path: "v1/files", decode: func() any { return &struct{ OK bool }{} },
				check: func(t *testing.T, _ *fltServer, out any, err error) {
					if err == nil && !out.(*struct{ OK bool }).OK {
						t.Error("body not decoded")
					}
				}},
		},
		{
			name: "502 text/html from a proxy",
			want: "ErrServer (502) after 4 attempts", match: []fltMatch{fltIs(apiauth.ErrServer, "ErrServer"), fltStatus(502)}, api: 4, token: 0,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
			}), cred: fltOpaqueToken, path: "v1/files"},
		},
		{
			name: "token endpoint answers 200 text/html",
			want: "ErrTokenRefresh (*json.SyntaxError); the API is not called", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltAs[*json.SyntaxError]("*json.SyntaxError")}, api: 0, token: 1,
			call: &fltCall{handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>Sign in</body></html>")
			}), cred: fltArtos, path: "api/v1/documents/"},
		},

		{
			name: "token endpoint answers 503, cache backoff near zero",
			want: "ErrTokenRefresh wrapping ErrServer, one token request: the retry layer does not retry another layer's error", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltIs(apiauth.ErrServer, "ErrServer")}, api: 0, token: 1,
			call: &fltCall{handler: fltJSON(503, `{"detail":"Service Unavailable"}`), cred: fltArtos,
				cache: apiauth.CacheOptions{MinBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond}, path: "api/v1/documents/"},
		},

		// Token endpoint oddities.
		{
			name: "token endpoint answers 200 with no token",
			want: "ErrTokenRefresh (no access_token); the API is not called", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltAs[*apiauth.RefreshError]("*apiauth.RefreshError")}, api: 0, token: 1,
			call: &fltCall{handler: fltJSON(200, `{"token":"`+fltOpaque+`"}`), cred: fltArtos, path: "api/v1/documents/"},
		},
		{
			name: "token endpoint answers 200 with a non-JWT token",
			want: "success: sent as it is, expiry unknown (default lifetime)", api: 1, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				mux := http.NewServeMux()
				mux.Handle("POST /get-access-token", fltJSON(200, `{"access_token":"`+fltOpaque+`"}`))
				mux.HandleFunc("GET /api/v1/documents/", func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") != "Bearer "+fltOpaque {
						w.WriteHeader(401)
						return
					}
					io.WriteString(w, "[]")
				})
				srv := fltServe(t, mux)
				*s = srv
				var expiry atomic.Pointer[time.Time]
				cache := fltArtosCache(t, srv.URL, apiauth.CacheOptions{OnToken: func(tok *apiauth.Token) { expiry.Store(&tok.Expiry) }})
				c := fltClient(t, srv.URL, cache, apiauth.ClientOptions{})
				_, err := c.Get(ctx, "api/v1/documents/", nil)
				if e := expiry.Load(); e == nil || !e.IsZero() {
					t.Errorf("token expiry %v, want unknown", e)
				}
				return fltOutcome{err: err}
			},
		},
		{
			name: "token endpoint answers 200 with an already expired JWT",
			want: "ErrUnauthorized: sent, 401, one renewal, 401 again", match: []fltMatch{fltIs(apiauth.ErrUnauthorized, "ErrUnauthorized"), fltStatus(401)}, api: 2, token: 2,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				var fk *apiauthtest.Server
				fk, srv := fltFake(t, apiauthtest.Config{}, map[string]http.HandlerFunc{
					"POST /artos/get-access-token": func(w http.ResponseWriter, _ *http.Request) {
						fltJSON(200, `{"access_token":"`+fk.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute)+`"}`)(w, nil)
					},
				})
				*s = srv
				c := fltClient(t, artos(srv), fltArtosCache(t, artos(srv), apiauth.CacheOptions{}), apiauth.ClientOptions{})
				_, err := c.Get(ctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},

		// The clock.
		{
			name: "server clock 2 h ahead (tokens issued in our future), 5 h of calls",
			want: "success; one token per lifetime, no 401", api: -1, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				calls, st, err := fltClockRun(t, func(time.Duration) time.Duration { return 2 * time.Hour })
				fltCheckClock(t, st, 0)
				return fltOutcome{err: err, calls: calls, note: fmt.Sprintf(": %d calls, %d tokens, %d 401s", calls, st.TokensIssued, st.Unauthorized)}
			},
		},
		{
			name: "server clock 2 h behind (tokens expired by our clock), 5 h of calls",
			want: "success; one token per lifetime, not one per call", api: -1, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				calls, st, err := fltClockRun(t, func(time.Duration) time.Duration { return -2 * time.Hour })
				fltCheckClock(t, st, 0)
				return fltOutcome{err: err, calls: calls, note: fmt.Sprintf(": %d calls, %d tokens, %d 401s", calls, st.TokensIssued, st.Unauthorized)}
			},
		},
		{
			name: "server clock jumps +2 h, then to -2 h, during 5 h of calls",
			want: "success; at most one 401 (absorbed) per jump", api: -1, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				calls, st, err := fltClockRun(t, func(e time.Duration) time.Duration {
					switch {
					case e < 100*time.Minute:
						return 0
					case e < 200*time.Minute:
						return 2 * time.Hour
					}
					return -2 * time.Hour
				})
				fltCheckClock(t, st, 2)
				return fltOutcome{err: err, calls: calls, note: fmt.Sprintf(": %d calls, %d tokens, %d 401s", calls, st.TokensIssued, st.Unauthorized)}
			},
		},

		// Refresh failures.
		{
			name: "refresh failing forever: 6000 calls over 10 min",
			want: "ErrTokenRefresh (wrapping the 500) for every call; the endpoint is hit on the backoff schedule, not per call", match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltIs(apiauth.ErrServer, "ErrServer")}, api: -1, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				fk := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, Now: time.Now})
				defer fk.Close()
				fk.FailTokenRequests(1000, apiauthtest.Fault{Status: 500})
				var first error
				var calls int
				synctest.Test(t, func(t *testing.T) {
					rt := fltInProcess{fk}
					src, _ := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID,
						&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: rt}})
					cache := apiauth.NewTokenCache(src, nil)
					defer cache.Close()
					c := fltClient(t, fk.URL(apiauthtest.Artos), cache, apiauth.ClientOptions{Base: rt})
					for range 6000 {
						_, err := c.Get(context.Background(), "api/v1/documents/", nil)
						if !errors.Is(err, apiauth.ErrTokenRefresh) {
							t.Fatalf("call %d: %v, want ErrTokenRefresh", calls, err)
						}
						if first == nil {
							first = err
						}
						calls++
						time.Sleep(100 * time.Millisecond)
					}
				})
				st := fk.Stats().Artos
				// Backoff 1 s doubling to 30 s, jittered down to half: at
				// least 20 and at most 45 attempts in 600 s.
				if st.Faults < 20 || st.Faults > 45 || st.Requests != st.Faults {
					t.Errorf("token endpoint hit %d times (%d requests in all) in 10 min, want 20 to 45 and no API call", st.Faults, st.Requests)
				}
				return fltOutcome{err: first, calls: calls, note: fmt.Sprintf(": %d calls, %d token requests, 0 API requests", calls, st.Requests)}
			},
		},
		{
			name: "refresh failing while the token is still valid",
			want: "success until the token's expiry, then ErrTokenRefresh", api: -1, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				fk := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, Now: time.Now, ArtosTokenTTL: time.Hour})
				defer fk.Close()
				var okCalls, failed int
				synctest.Test(t, func(t *testing.T) {
					rt := fltInProcess{fk}
					src, _ := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID,
						&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: rt}})
					cache := apiauth.NewTokenCache(src, nil)
					defer cache.Close()
					c := fltClient(t, fk.URL(apiauthtest.Artos), cache, apiauth.ClientOptions{Base: rt})
					if _, err := c.Get(context.Background(), "api/v1/documents/", nil); err != nil {
						t.Fatal(err)
					}
					fk.FailTokenRequests(1000, apiauthtest.Fault{Status: 500})
					start := time.Now()
					for e := time.Duration(0); e < 2*time.Hour; e = time.Since(start) {
						_, err := c.Get(context.Background(), "api/v1/documents/", nil)
						switch {
						case e < 59*time.Minute && err != nil:
							t.Fatalf("at %s: %v, want the old token served", e, err)
						case e > 61*time.Minute && !errors.Is(err, apiauth.ErrTokenRefresh):
							t.Fatalf("at %s: %v, want ErrTokenRefresh", e, err)
						case err == nil:
							okCalls++
						default:
							failed++
						}
						time.Sleep(time.Minute)
					}
				})
				return fltOutcome{calls: okCalls + failed, note: fmt.Sprintf(": %d calls served by the old token, %d ErrTokenRefresh after its expiry", okCalls, failed)}
			},
		},

		// A context cancelled at each stage.
		{
			name: "context cancelled before the call",
			want: "context.Canceled; nothing sent to the API", match: []fltMatch{fltIs(context.Canceled, "context.Canceled")}, api: 0, token: -1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				_, srv := fltFake(t, apiauthtest.Config{}, nil)
				*s = srv
				c := fltClient(t, artos(srv), fltArtosCache(t, artos(srv), apiauth.CacheOptions{}), apiauth.ClientOptions{})
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := c.Get(cctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "context cancelled while waiting for a token",
			want: "context.Canceled at once; the API is not called", match: []fltMatch{fltIs(context.Canceled, "context.Canceled")}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				entered := make(chan struct{}, 1)
				srv := fltServe(t, fltBlock(entered, nil))
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				fltCancelOn(ctx, entered, cancel)
				_, err := c.Get(cctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "context cancelled while waiting for the answer headers",
			want: "context.Canceled; not retried", match: []fltMatch{fltIs(context.Canceled, "context.Canceled")}, api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				entered := make(chan struct{}, 1)
				srv := fltServe(t, fltBlock(entered, nil))
				*s = srv
				c := fltClient(t, srv.URL, fltStatic(t, fltOpaque), apiauth.ClientOptions{})
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				fltCancelOn(ctx, entered, cancel)
				_, err := c.Get(cctx, "v1/files", nil)
				return fltOutcome{err: err}
			},
		},
		{
			name: "context cancelled during the retry backoff (Retry-After: 5)",
			want: "context.Canceled at once, not after 5 s", match: []fltMatch{fltIs(context.Canceled, "context.Canceled")}, api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				fk, srv := fltFake(t, apiauthtest.Config{}, nil)
				*s = srv
				fk.FailRequests(1, apiauthtest.Fault{Status: 503, RetryAfter: 5 * time.Second})
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				c := fltClient(t, audimodal(srv), fltKey(t, apiauthtest.AudiModalLiveKey), apiauth.ClientOptions{Retry: transport.RetryOptions{OnRetry: func(*http.Request, int, *http.Response, error, time.Duration) { cancel() }}})
				start := time.Now()
				_, err := c.Get(cctx, "v1/files", nil)
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("returned after %s: the wait was not interrupted", d)
				}
				return fltOutcome{err: err}
			},
		},
		{
			name: "context cancelled while reading the body",
			want: "context.Canceled (reading response)", match: []fltMatch{fltIs(context.Canceled, "context.Canceled")}, api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				srv := fltServe(t, fltBlock(make(chan struct{}, 1), func(w http.ResponseWriter) {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `[{"id":"file_1"},`)
					http.NewResponseController(w).Flush()
				}))
				*s = srv
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				// Cancel as soon as the answer's headers are in.
				base := testrt.Func(func(r *http.Request) (*http.Response, error) {
					resp, err := fltTransport(t).RoundTrip(r)
					cancel()
					return resp, err
				})
				c := fltClient(t, srv.URL, fltStatic(t, fltOpaque), apiauth.ClientOptions{Base: base})
				var v []map[string]any
				_, err := c.Get(cctx, "v1/files", &v)
				return fltOutcome{err: err}
			},
		},
		{
			name: "context cancelled while renewing the token after a 401",
			want: "ErrUnauthorized: the 401 answer, as the RoundTripper contract wants; no second send", match: []fltMatch{fltIs(apiauth.ErrUnauthorized, "ErrUnauthorized")}, api: 1, token: 2,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				entered := make(chan struct{}, 1)
				var fetches atomic.Int32
				mux := http.NewServeMux()
				mux.HandleFunc("POST /get-access-token", func(w http.ResponseWriter, r *http.Request) {
					if fetches.Add(1) == 1 {
						fltJSON(200, `{"access_token":"`+fltOpaque+`"}`)(w, r)
						return
					}
					fltBlock(entered, nil)(w, r)
				})
				mux.Handle("/", fltJSON(401, `{"detail":"Invalid authentication credentials"}`))
				srv := fltServe(t, mux)
				*s = srv
				c := fltClient(t, srv.URL, fltArtosCache(t, srv.URL, apiauth.CacheOptions{}), apiauth.ClientOptions{})
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				fltCancelOn(ctx, entered, cancel)
				_, err := c.Get(cctx, "api/v1/documents/", nil)
				return fltOutcome{err: err}
			},
		},
	}
}

// fltCheckClock checks the counters of a five-hour clock run with one-hour
// tokens: about one token per lifetime, and at most max401 401 answers.
func fltCheckClock(t *testing.T, st apiauthtest.FamilyStats, max401 int64) {
	t.Helper()
	if st.TokensIssued > 8 {
		t.Errorf("%d tokens for 5 h of one-hour tokens, want at most 8", st.TokensIssued)
	}
	if st.Unauthorized > max401 {
		t.Errorf("%d answers 401, want at most %d", st.Unauthorized, max401)
	}
}
