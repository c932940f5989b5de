package apiauthtest

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Family names one of the four API families the server fakes. Its value is
// also the path prefix the family is mounted under ("/artos", ...). The
// zero value names no family.
type Family string

// The four families.
const (
	Artos     Family = "artos"
	Artanis   Family = "artanis"
	Voltasis  Family = "voltasis"
	AudiModal Family = "audimodal"
)

// Default lifetimes and limits, used when the matching [Config] field is zero.
const (
	DefaultArtosTokenTTL       = time.Hour
	DefaultAudiModalTokenTTL   = time.Hour
	DefaultAudiModalRefreshTTL = 30 * 24 * time.Hour
)

// Config configures a [Server]. The zero value is a TLS server with the
// documented defaults; every field's zero value is described on the field.
// [Start] copies the Config; change a running server with its Set* methods.
type Config struct {
	// PlainHTTP serves plain http:// instead of https://.
	PlainHTTP bool

	// Now is the server's base clock; nil means [time.Now]. The server's
	// notion of now is Now() + ClockOffset; it drives JWT iat/exp, key
	// expiry, rate-limit windows and Retry-After dates.
	Now func() time.Time
	// ClockOffset is added to Now: a positive offset puts the server ahead
	// of the client. Zero means none.
	ClockOffset time.Duration
	// Latency is added before every response (real time, not Now). Zero
	// means none.
	Latency time.Duration

	// SigningKey is the HS256 key of every JWT the server issues; nil means
	// 32 random bytes.
	SigningKey []byte

	// ArtosTokenTTL is the lifetime of tokens from Artos'
	// POST /get-access-token; zero means [DefaultArtosTokenTTL].
	ArtosTokenTTL time.Duration
	// AudiModalTokenTTL is the lifetime of AudiModal access tokens (the
	// expires_in of login and refresh); zero means
	// [DefaultAudiModalTokenTTL].
	AudiModalTokenTTL time.Duration
	// AudiModalRefreshTTL is the lifetime of AudiModal refresh tokens; zero
	// means [DefaultAudiModalRefreshTTL].
	AudiModalRefreshTTL time.Duration

	// AudiModalRateLimit is AudiModal's per-key limit; the zero value is
	// 1000 requests per minute.
	AudiModalRateLimit RateLimit
	// VoltasisRateLimit is Voltasis' limit; the zero value is 1000 requests
	// per minute with a valid key and 100 without.
	VoltasisRateLimit RateLimit
}

// Server is an in-process fake of the four API families, each mounted under
// its own path prefix (see [Server.URL]). Create it with [NewServer] or
// [Start]; the zero value is not usable. All methods are safe for concurrent
// use, including while requests are being served.
type Server struct {
	ts   *httptest.Server
	done chan struct{} // closed by Close: releases hanging handlers
	once sync.Once

	now      func() time.Time
	key      []byte
	offset   atomic.Int64 // time.Duration
	latency  atomic.Int64 // time.Duration
	artosTTL atomic.Int64 // time.Duration
	amTTL    atomic.Int64 // time.Duration
	amRefTTL atomic.Int64 // time.Duration

	faults faultQueue
	stats  map[Family]*counters
	muxes  map[Family]*familyMux

	artos     *artos
	artanis   *artanis
	voltasis  *voltasis
	audimodal *audimodal
}

// NewServer starts a TLS server with the default [Config] and registers
// its Close with tb.Cleanup.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := Start(Config{})
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server configured by cfg. The caller must call
// [Server.Close]. It panics if a duration or limit in cfg is negative, or if
// it cannot listen on a loopback port (like [httptest.NewServer]).
func Start(cfg Config) *Server {
	for name, d := range map[string]time.Duration{
		"Latency": cfg.Latency, "ArtosTokenTTL": cfg.ArtosTokenTTL,
		"AudiModalTokenTTL": cfg.AudiModalTokenTTL, "AudiModalRefreshTTL": cfg.AudiModalRefreshTTL,
	} {
		if d < 0 {
			panic("apiauthtest: Config." + name + " is negative")
		}
	}
	cfg.AudiModalRateLimit.check("Config.AudiModalRateLimit")
	cfg.VoltasisRateLimit.check("Config.VoltasisRateLimit")

	s := &Server{
		done:  make(chan struct{}),
		now:   cfg.Now,
		key:   append([]byte(nil), cfg.SigningKey...),
		stats: make(map[Family]*counters),
		muxes: make(map[Family]*familyMux),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.key) == 0 {
		s.key = []byte(randomHex(32))
	}
	s.offset.Store(int64(cfg.ClockOffset))
	s.latency.Store(int64(cfg.Latency))
	s.SetArtosTokenTTL(cfg.ArtosTokenTTL)
	s.SetAudiModalTokenTTL(cfg.AudiModalTokenTTL)
	s.SetAudiModalRefreshTTL(cfg.AudiModalRefreshTTL)

	s.artos = newArtos(s)
	s.artanis = newArtanis()
	s.voltasis = newVoltasis(s, cfg.VoltasisRateLimit)
	s.audimodal = newAudiModal(s, cfg.AudiModalRateLimit)
	for f, impl := range map[Family]family{
		Artos: s.artos, Artanis: s.artanis, Voltasis: s.voltasis, AudiModal: s.audimodal,
	} {
		m := &familyMux{family: impl, mux: http.NewServeMux()}
		impl.register(m.mux)
		s.muxes[f] = m
		s.stats[f] = new(counters)
	}

	s.ts = httptest.NewUnstartedServer(s)
	// Keep users' test output clean (TLS handshake errors from plain-HTTP
	// probes, resets): the fake never logs.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.PlainHTTP {
		s.ts.Start()
	} else {
		s.ts.StartTLS()
	}
	return s
}

// Close releases handlers held by a hanging fault, shuts the server down
// and waits for outstanding requests. It also closes the idle connections
// of [Server.Client]. Calling it more than once is harmless.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// URL returns the base URL of family f: the server's scheme, host and port
// followed by the family's prefix, without a trailing slash, for example
// "https://127.0.0.1:41234/audimodal". Paths documented by the provider are
// appended to it as they are ("/v1/health"). It panics for an unknown
// family.
func (s *Server) URL(f Family) string {
	if _, ok := s.muxes[f]; !ok {
		panic(fmt.Sprintf("apiauthtest: unknown family %q", string(f)))
	}
	return s.ts.URL + "/" + string(f)
}

// Client returns an HTTP client configured for the server: it trusts the
// server's TLS certificate. Its idle connections are closed by
// [Server.Close].
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Now returns the server's notion of the current time: Config.Now plus the
// clock offset.
func (s *Server) Now() time.Time {
	return s.now().Add(time.Duration(s.offset.Load()))
}

// SigningKey returns a copy of the HS256 key the server signs its JWTs
// with, so that tests can verify tokens or forge their own.
func (s *Server) SigningKey() []byte { return append([]byte(nil), s.key...) }

// SetClockOffset sets the server's clock offset (see Config.ClockOffset).
func (s *Server) SetClockOffset(d time.Duration) { s.offset.Store(int64(d)) }

// SetLatency sets the delay added before every response; zero means none.
// It panics if d is negative.
func (s *Server) SetLatency(d time.Duration) {
	mustNotBeNegative("latency", d)
	s.latency.Store(int64(d))
}

// SetArtosTokenTTL sets the lifetime of tokens issued from now on by Artos;
// zero means [DefaultArtosTokenTTL]. It panics if d is negative.
func (s *Server) SetArtosTokenTTL(d time.Duration) {
	s.artosTTL.Store(int64(ttlOrDefault("Artos token TTL", d, DefaultArtosTokenTTL)))
}

// SetAudiModalTokenTTL sets the lifetime of AudiModal access tokens issued
// from now on; zero means [DefaultAudiModalTokenTTL]. It panics if d is
// negative.
func (s *Server) SetAudiModalTokenTTL(d time.Duration) {
	s.amTTL.Store(int64(ttlOrDefault("AudiModal token TTL", d, DefaultAudiModalTokenTTL)))
}

// SetAudiModalRefreshTTL sets the lifetime of AudiModal refresh tokens
// issued from now on; zero means [DefaultAudiModalRefreshTTL]. It panics if
// d is negative.
func (s *Server) SetAudiModalRefreshTTL(d time.Duration) {
	s.amRefTTL.Store(int64(ttlOrDefault("AudiModal refresh TTL", d, DefaultAudiModalRefreshTTL)))
}

// SetAudiModalRateLimit replaces AudiModal's rate limit; requests already
// counted in the current window stay counted. It panics if a field is
// negative.
func (s *Server) SetAudiModalRateLimit(rl RateLimit) {
	rl.check("AudiModal rate limit")
	s.audimodal.limiter.set(rl)
}

// SetVoltasisRateLimit replaces Voltasis' rate limits; requests already
// counted in the current window stay counted. It panics if a field is
// negative.
func (s *Server) SetVoltasisRateLimit(rl RateLimit) {
	rl.check("Voltasis rate limit")
	s.voltasis.limiter.set(rl)
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Artos:     s.stats[Artos].snapshot(),
		Artanis:   s.stats[Artanis].snapshot(),
		Voltasis:  s.stats[Voltasis].snapshot(),
		AudiModal: s.stats[AudiModal].snapshot(),
	}
}

func mustNotBeNegative(what string, d time.Duration) {
	if d < 0 {
		panic("apiauthtest: negative " + what)
	}
}

func ttlOrDefault(what string, d, def time.Duration) time.Duration {
	mustNotBeNegative(what, d)
	if d == 0 {
		return def
	}
	return d
}

// tokenPatterns are the routes whose requests FailTokenRequests faults.
var tokenPatterns = map[string]bool{
	"POST /get-access-token": true,
	"POST /v1/auth/login":    true,
	"POST /v1/auth/refresh":  true,
}

// ServeHTTP dispatches to the family named by the first path segment, after
// counting the request, applying the latency and any queued fault.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	fm, ok := s.muxes[Family(name)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	c := s.stats[Family(name)]
	c.requests.Add(1)
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { c.countStatus(rec.status) }()

	if !s.delay(r) {
		// The client gave up: drop the connection rather than write an
		// empty 200 that a racing client could still read.
		panic(http.ErrAbortHandler)
	}

	// Strip the family prefix, like http.StripPrefix.
	prefix := "/" + name
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	r2.URL = &u
	r2.URL.Path = "/" + rest
	r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, prefix)

	h, pattern := fm.mux.Handler(r2)
	if f, ok := s.faults.next(tokenPatterns[pattern]); ok {
		c.faults.Add(1)
		s.inject(rec, r2, fm.family, f)
		return
	}
	if pattern == "" {
		// No route: the mux answers 404 or 405; answer the same status in
		// the family's own error shape.
		probe := httptest.NewRecorder()
		h.ServeHTTP(probe, r2)
		if allow := probe.Header().Get("Allow"); allow != "" {
			rec.Header().Set("Allow", allow)
		}
		fm.family.routeError(rec, r2, probe.Code)
		return
	}
	fm.mux.ServeHTTP(rec, r2)
}

// delay waits for the configured latency. It reports false if the client
// gave up first.
func (s *Server) delay(r *http.Request) bool {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	return s.wait(r, t.C)
}

// wait blocks until ready fires (reporting true) or the request's context
// ends (reporting false). If the server closes first, it aborts the
// handler, so that the client sees a dropped connection rather than an
// empty 200.
func (s *Server) wait(r *http.Request, ready <-chan time.Time) bool {
	select {
	case <-ready:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		panic(http.ErrAbortHandler)
	}
}

// family is one API family's routes and error shapes.
type family interface {
	// register adds the family's routes, without its prefix.
	register(mux *http.ServeMux)
	// writeStatus answers status with the family's generic error body.
	writeStatus(w http.ResponseWriter, status int)
	// routeError answers a request no route matched (404 or 405).
	routeError(w http.ResponseWriter, r *http.Request, status int)
}

type familyMux struct {
	family family
	mux    *http.ServeMux
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("apiauthtest: encoding a response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is the inner object of Voltasis' and AudiModal's error bodies,
// {"error":{...}}.
type apiError struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RequiredRole string `json:"required_role,omitempty"`
	ExpiresAt    string `json:"expires_at,omitempty"`
	RetryAfter   int64  `json:"retry_after,omitempty"`
}

func writeAPIError(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, struct {
		Error apiError `json:"error"`
	}{e})
}

// statusCode turns a status into an error code: 503 -> SERVICE_UNAVAILABLE.
func statusCode(status int) string {
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

// writeStatusAPIError answers status with {"error":{"code","message"}}
// derived from the status text.
func writeStatusAPIError(w http.ResponseWriter, status int) {
	writeAPIError(w, status, apiError{Code: statusCode(status), Message: http.StatusText(status)})
}

// decodeJSON reads r's JSON body (at most 1 MiB) into v.
func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

// bearer returns the token of an "Authorization: Bearer <token>" header
// (scheme matched case-insensitively), and whether there was one.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// rfc3339 formats t in UTC, to the second.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
