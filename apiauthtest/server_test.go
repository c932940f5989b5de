package apiauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
)

func TestURLsAndRouting(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	for _, f := range []apiauthtest.Family{apiauthtest.Artos, apiauthtest.Artanis, apiauthtest.Voltasis, apiauthtest.AudiModal} {
		u := srv.URL(f)
		if !strings.HasPrefix(u, "https://127.0.0.1:") || !strings.HasSuffix(u, "/"+string(f)) {
			t.Errorf("URL(%s) = %q", f, u)
		}
	}
	root := strings.TrimSuffix(srv.URL(apiauthtest.Artos), "/artos")
	// Paths outside every prefix reach nothing: clients must keep the prefix.
	do(t, srv, "POST", root+"/get-access-token", `{"user_id":"user_123"}`).want(t, http.StatusNotFound, "")
	do(t, srv, "GET", root+"/v1/health", "", bearerH(apiauthtest.AudiModalLiveKey)...).want(t, http.StatusNotFound, "")
	// A family's paths do not leak into another's.
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/v1/health", "").want(t, http.StatusNotFound, `{"detail":"Not Found"}`)

	defer func() {
		if recover() == nil {
			t.Error("URL of an unknown family did not panic")
		}
	}()
	srv.URL("nope")
}

func TestPlainHTTP(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	if u := srv.URL(apiauthtest.Artos); !strings.HasPrefix(u, "http://") {
		t.Fatalf("URL = %q, want http://", u)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "").want(t, http.StatusOK, "")
}

func TestTLSByDefault(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	// A client that does not trust the test certificate fails.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	_, err := doErr(t.Context(), &http.Client{Transport: tr}, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusting client: err = %v, want a certificate error", err)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "").want(t, http.StatusOK, "")
}

func TestClockOffsetInTokens(t *testing.T) {
	base := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(base), ClockOffset: 2 * time.Hour})
	defer srv.Close()
	if got := srv.Now(); !got.Equal(base.Add(2 * time.Hour)) {
		t.Errorf("Now() = %v", got)
	}
	c := claims(t, srv, artosToken(t, srv, apiauthtest.ArtosUserID))
	if iat := unix(t, c, "iat"); iat != base.Add(2*time.Hour).Unix() {
		t.Errorf("iat = %d, want base+2h = %d", iat, base.Add(2*time.Hour).Unix())
	}
	srv.SetClockOffset(-90 * time.Second)
	p := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword)
	c = claims(t, srv, p.AccessToken)
	if iat, exp := unix(t, c, "iat"), unix(t, c, "exp"); iat != base.Add(-90*time.Second).Unix() || exp != iat+3600 {
		t.Errorf("iat/exp = %d/%d, want base-90s and +1h", iat, exp)
	}
	r := do(t, srv, "GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", "", bearerH(apiauthtest.AudiModalLiveKey)...)
	if h := decode[map[string]string](t, r); h["timestamp"] != "2024-03-01T07:58:30Z" {
		t.Errorf("health timestamp = %q", h["timestamp"])
	}
}

func TestRealClockByDefault(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	before := time.Now().Unix()
	c := claims(t, srv, artosToken(t, srv, apiauthtest.ArtosUserID))
	if iat := unix(t, c, "iat"); iat < before || iat > time.Now().Unix() {
		t.Errorf("iat = %d, want the real time", iat)
	}
}

func TestLatency(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{Latency: time.Hour})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	res, err := doErr(ctx, srv.Client(), "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with an hour of latency: err = %v, want deadline exceeded (%+v)", err, res)
	}
	srv.SetLatency(0)
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "").want(t, http.StatusOK, "")

	srv.SetLatency(15 * time.Millisecond)
	start := time.Now()
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "").want(t, http.StatusOK, "")
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("answer came after %v, before the 15ms latency", d)
	}
}

func TestFailTokenRequests(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	artos := srv.URL(apiauthtest.Artos)
	audi := srv.URL(apiauthtest.AudiModal)
	srv.FailTokenRequests(2, apiauthtest.Fault{})
	// Other requests are not token requests.
	do(t, srv, "GET", artos+"/api/v1/search/status", "").want(t, http.StatusOK, "")
	do(t, srv, "POST", artos+"/get-access-token", `{"user_id":"user_123"}`).want(t, 500, `{"detail":"Internal Server Error"}`)
	r := do(t, srv, "POST", audi+"/v1/auth/login", `{}`)
	r.want(t, 500, `{"error":{"code":"INTERNAL_SERVER_ERROR","message":"Internal Server Error"}}`)
	if r.Header.Get("X-RateLimit-Limit") != "" {
		t.Error("an injected fault carries X-RateLimit headers")
	}
	artosToken(t, srv, apiauthtest.ArtosUserID)

	p := login(t, srv, apiauthtest.AudiModalEmail, apiauthtest.AudiModalPassword)
	srv.FailTokenRequests(1, apiauthtest.Fault{Status: http.StatusBadGateway})
	do(t, srv, "GET", audi+"/v1/health", "", bearerH(p.AccessToken)...).want(t, http.StatusOK, "")
	do(t, srv, "POST", audi+"/v1/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`).want(t, http.StatusBadGateway,
		`{"error":{"code":"BAD_GATEWAY","message":"Bad Gateway"}}`)
	// The refresh token was not consumed by the failed attempt.
	do(t, srv, "POST", audi+"/v1/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`).want(t, http.StatusOK, "")

	st := srv.Stats()
	if st.Artos.Faults != 1 || st.AudiModal.Faults != 2 || st.Total().Faults != 3 || st.Artos.TokensIssued != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestFailRequestsUnavailable(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: fixedClock(now), ClockOffset: time.Minute})
	defer srv.Close()
	srv.FailRequests(2, apiauthtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 1500 * time.Millisecond})
	srv.FailRequests(1, apiauthtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 10 * time.Second, RetryAfterDate: true})

	r := do(t, srv, "GET", srv.URL(apiauthtest.Voltasis)+"/v1/auth/me", "", bearerH(apiauthtest.VoltasisAPIKey)...)
	r.want(t, 503, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"Service Unavailable"}}`)
	if got := r.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5s rounded up)", got)
	}
	r = do(t, srv, "GET", srv.URL(apiauthtest.Artanis)+"/api/prompts", "")
	r.want(t, 503, "Service Unavailable")
	r = do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "")
	r.want(t, 503, `{"detail":"Service Unavailable"}`)
	if got, want := r.Header.Get("Retry-After"), "Mon, 01 Jan 2024 12:01:10 GMT"; got != want {
		t.Errorf("Retry-After = %q, want the HTTP-date %q (server clock + 10s)", got, want)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "").want(t, http.StatusOK, "")
	if got := srv.Stats().Total().Faults; got != 3 {
		t.Errorf("faults = %d, want 3", got)
	}
}

func TestFaultOrderAndClear(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	tokenURL := srv.URL(apiauthtest.Artos) + "/get-access-token"
	srv.FailTokenRequests(1, apiauthtest.Fault{Status: 500})
	srv.FailRequests(1, apiauthtest.Fault{Status: 503})
	do(t, srv, "POST", tokenURL, `{"user_id":"user_123"}`).want(t, 503, "")
	do(t, srv, "POST", tokenURL, `{"user_id":"user_123"}`).want(t, 500, "")
	do(t, srv, "POST", tokenURL, `{"user_id":"user_123"}`).want(t, 200, "")

	srv.FailRequests(5, apiauthtest.Fault{})
	srv.FailTokenRequests(5, apiauthtest.Fault{})
	srv.ClearFaults()
	do(t, srv, "POST", tokenURL, `{"user_id":"user_123"}`).want(t, 200, "")
}

func TestFaultMalformedJSON(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	srv.FailTokenRequests(1, apiauthtest.Fault{MalformedJSON: true})
	r := do(t, srv, "POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/login",
		`{"email":"user@company.com","password":"secure_password","tenant_id":"tenant_123"}`)
	r.want(t, http.StatusOK, "")
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(r.Body), &v); err == nil {
		t.Errorf("body %q decodes as JSON", r.Body)
	}
	if st := srv.Stats().AudiModal; st.Logins != 0 || st.Faults != 1 {
		t.Errorf("Stats().AudiModal = %+v", st)
	}
}

func TestFaultHang(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	srv.FailTokenRequests(1, apiauthtest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := doErr(ctx, srv.Client(), "POST", srv.URL(apiauthtest.Artos)+"/get-access-token", `{"user_id":"user_123"}`)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	artosToken(t, srv, apiauthtest.ArtosUserID)
}

// TestCloseDropsHeldRequests: requests held by a hang fault or by latency
// end with a dropped connection (not an empty 200) when the server closes.
func TestCloseDropsHeldRequests(t *testing.T) {
	for name, hold := range map[string]func(*apiauthtest.Server){
		"hang fault": func(s *apiauthtest.Server) { s.FailRequests(1, apiauthtest.Fault{Hang: true}) },
		"latency":    func(s *apiauthtest.Server) { s.SetLatency(time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := apiauthtest.Start(apiauthtest.Config{})
			hold(srv)
			errc := make(chan error, 1)
			go func() {
				_, err := doErr(context.Background(), srv.Client(), "GET", srv.URL(apiauthtest.Artos)+"/api/v1/search/status", "")
				errc <- err
			}()
			for srv.Stats().Artos.Requests == 0 {
				time.Sleep(time.Millisecond)
			}
			srv.Close()
			if err := <-errc; err == nil {
				t.Error("a held request got an answer after Close, want a dropped connection")
			}
			srv.Close() // twice is harmless
		})
	}
}

func TestFaultResetConnection(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	srv.FailRequests(1, apiauthtest.Fault{ResetConnection: true})
	// A fresh connection, so that the transport does not retry the request
	// on another one.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	_, err := doErr(t.Context(), &http.Client{Transport: tr}, "GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", "")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want a connection reset", err)
	}
	do(t, srv, "GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", "", bearerH(apiauthtest.AudiModalLiveKey)...).want(t, http.StatusOK, "")
	if st := srv.Stats().AudiModal; st.Faults != 1 || st.Requests != 2 {
		t.Errorf("Stats().AudiModal = %+v", st)
	}
}

// TestStatsUnderConcurrency drives every family at once while knobs change
// and snapshots are taken; run with -race.
func TestStatsUnderConcurrency(t *testing.T) {
	srv := apiauthtest.NewServer(t)
	const n = 16
	var wg sync.WaitGroup
	fire := func(method, url, body string, h ...string) {
		wg.Go(func() {
			if _, err := doErr(t.Context(), srv.Client(), method, url, body, h...); err != nil {
				t.Error(err)
			}
		})
	}
	for i := range n {
		fire("POST", srv.URL(apiauthtest.Artos)+"/get-access-token", `{"user_id":"user_123"}`)
		fire("POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/login", `{"email":"user@company.com","password":"secure_password","tenant_id":"tenant_123"}`)
		fire("GET", srv.URL(apiauthtest.Voltasis)+"/v1/auth/me", "")
		key := apiauthtest.ArtanisAPIKey
		if i%2 == 0 {
			key = "wrong"
		}
		fire("GET", srv.URL(apiauthtest.Artanis)+"/api/prompts?projectSlug=my-project", "", "x-api-key", key, "x-org-slug", "my-org")
		wg.Go(func() {
			_ = srv.Stats()
			srv.SetClockOffset(0)
			srv.SetLatency(0)
			srv.SetAudiModalRateLimit(apiauthtest.RateLimit{})
			srv.AddArtosUser("user_extra", apiauthtest.ArtosOrgID)
		})
	}
	wg.Wait()
	st := srv.Stats()
	want := apiauthtest.Stats{
		Artos:     apiauthtest.FamilyStats{Requests: n, TokensIssued: n},
		Artanis:   apiauthtest.FamilyStats{Requests: n, Unauthorized: n / 2},
		Voltasis:  apiauthtest.FamilyStats{Requests: n, Unauthorized: n},
		AudiModal: apiauthtest.FamilyStats{Requests: n, TokensIssued: n, Logins: n},
	}
	if st != want {
		t.Errorf("Stats() = %+v\nwant      %+v", st, want)
	}
	if tot := st.Total(); tot.Requests != 4*n || tot.Unauthorized != n+n/2 || tot.TokensIssued != 2*n {
		t.Errorf("Total() = %+v", tot)
	}
}

func TestStartPanicsOnNegativeConfig(t *testing.T) {
	for name, cfg := range map[string]apiauthtest.Config{
		"Latency":             {Latency: -1},
		"ArtosTokenTTL":       {ArtosTokenTTL: -1},
		"AudiModalTokenTTL":   {AudiModalTokenTTL: -1},
		"AudiModalRefreshTTL": {AudiModalRefreshTTL: -1},
		"AudiModalRateLimit":  {AudiModalRateLimit: apiauthtest.RateLimit{Limit: -1}},
		"VoltasisRateLimit":   {VoltasisRateLimit: apiauthtest.RateLimit{Window: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "apiauthtest:") {
					t.Errorf("recovered %v, want an apiauthtest panic", r)
				}
			}()
			srv := apiauthtest.Start(cfg)
			srv.Close()
		})
	}
}

func TestSigningKeyFromConfig(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	srv := apiauthtest.Start(apiauthtest.Config{SigningKey: key, PlainHTTP: true})
	defer srv.Close()
	key[0] = 'X' // Start copied it
	if string(srv.SigningKey()) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("SigningKey() = %q", srv.SigningKey())
	}
	claims(t, srv, artosToken(t, srv, apiauthtest.ArtosUserID))
}
