package apiauth_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/transport"
)

// These end-to-end tests need time to pass: token lifetimes, refresh
// rotation, rate-limit windows. They run in a synctest bubble, where the
// fake (started outside it, reached through inProcess) and the whole client
// stack share the bubble's virtual clock: minutes pass in microseconds.

// TestE2EArtosExpiryThenRefresh: an Artos token has no expires_in; the
// cache reads its JWT exp and fetches a new one from POST /get-access-token
// before the server would refuse the old one.
func TestE2EArtosExpiryThenRefresh(t *testing.T) {
	const ttl = 2 * time.Minute // the short-TTL knob
	srv := startFake(t, apiauthtest.Config{ArtosTokenTTL: ttl})
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		src := must(apiauth.NewTokenEndpoint(srv.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID,
			&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: inProcess{srv}}}))(t)
		var adopted atomic.Int32
		cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{OnToken: func(*apiauth.Token) { adopted.Add(1) }})
		defer cache.Close()
		artosAPI := artos.Client{Client: inProcessClient(t, srv, apiauthtest.Artos, cache, nil)}
		list := func(when string) {
			t.Helper()
			docs, err := artosAPI.ListDocuments(ctx)
			if err != nil || len(docs) != 2 {
				t.Fatalf("%s: %v, %v", when, docs, err)
			}
			synctest.Wait() // let a background refresh finish
		}
		issued := func() int64 { return srv.Stats().Artos.TokensIssued }

		list("first call")
		first, _ := cache.Token(ctx)
		if d := time.Until(first.Expiry); d != ttl {
			t.Errorf("token valid for %s, want %s from its exp claim", d, ttl)
		}
		time.Sleep(time.Minute)
		list("a minute later")
		if issued() != 1 {
			t.Fatalf("%d tokens issued while the first was fresh", issued())
		}

		// Inside the refresh-ahead window (the last quarter of the
		// lifetime): the old token is still served while one refresh runs.
		time.Sleep(ttl*3/4 - time.Minute + time.Second)
		list("in the refresh-ahead window")
		if issued() != 2 || adopted.Load() != 2 {
			t.Fatalf("tokens issued %d, adopted %d; want 2 and 2", issued(), adopted.Load())
		}

		// Long after every token expired: the next caller waits for a new one.
		time.Sleep(10 * ttl)
		list("after expiry")
		if issued() != 3 {
			t.Errorf("tokens issued %d, want 3", issued())
		}
		if st := srv.Stats().Artos; st.Unauthorized != 0 {
			t.Errorf("%d requests refused: an expired token was sent", st.Unauthorized)
		}
	})
}

// TestE2EAudiModalRefreshRotation: one login, then single-use refresh
// tokens, each replaced by the next, over several access-token lifetimes.
func TestE2EAudiModalRefreshRotation(t *testing.T) {
	const ttl = time.Minute
	srv := startFake(t, apiauthtest.Config{AudiModalTokenTTL: ttl})
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		login := apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}
		src := must(apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal), login,
			&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: inProcess{srv}}}))(t)
		cache := apiauth.NewTokenCache(src, nil)
		defer cache.Close()
		am := audimodal.Client{Client: inProcessClient(t, srv, apiauthtest.AudiModal, cache,
			&apiauth.ClientOptions{TenantHeader: audimodal.TenantHeader})}

		const lifetimes = 5
		calls := 0
		for start := time.Now(); time.Since(start) < lifetimes*ttl; calls++ {
			files, err := am.ListFiles(ctx)
			if err != nil || files.TenantID != apiauthtest.AudiModalTenantID {
				t.Fatalf("call %d: %+v, %v", calls, files, err)
			}
			synctest.Wait()
			time.Sleep(ttl / 6)
		}
		st := srv.Stats().AudiModal
		if st.Logins != 1 || st.RefreshRejections != 0 || st.Unauthorized != 0 {
			t.Errorf("logins %d, refresh rejections %d, 401s %d; want 1, 0, 0", st.Logins, st.RefreshRejections, st.Unauthorized)
		}
		if st.Refreshes < lifetimes-1 || st.Refreshes > lifetimes+1 || st.TokensIssued != 1+st.Refreshes {
			t.Errorf("%d refreshes (%d tokens issued) over %d lifetimes and %d calls", st.Refreshes, st.TokensIssued, lifetimes, calls)
		}
	})
}

// TestE2EAudiModal429WaitedOut: a 429 with retry_after in its body (and no
// Retry-After header) is waited out by the retry layer, not returned.
func TestE2EAudiModal429WaitedOut(t *testing.T) {
	const window = 10 * time.Second
	srv := startFake(t, apiauthtest.Config{AudiModalRateLimit: apiauthtest.RateLimit{Limit: 3, Window: window}})
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		key := must(apiauth.ParseAPIKey(apiauthtest.AudiModalLiveKey))(t)
		first := audimodal.Client{Client: inProcessClient(t, srv, apiauthtest.AudiModal, key, nil)}
		// The window opens with the first call; the first client's pacing
		// spreads its three calls over part of it.
		start := time.Now()
		for range 3 { // the window's whole allowance
			if _, err := first.Health(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// A second client, with no limit headers seen yet, earns the 429.
		var waits []time.Duration
		second := audimodal.Client{Client: inProcessClient(t, srv, apiauthtest.AudiModal, key, &apiauth.ClientOptions{
			Retry: transport.RetryOptions{OnRetry: func(_ *http.Request, _ int, resp *http.Response, _ error, wait time.Duration) {
				if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
					waits = append(waits, wait)
				}
			}},
		})}
		h, err := second.Health(ctx)
		if err != nil || h.Status != "healthy" {
			t.Fatalf("Health = %+v, %v; want the 429 waited out", h, err)
		}
		elapsed := time.Since(start)
		if st := srv.Stats().AudiModal; st.RateLimited != 1 {
			t.Errorf("%d answers were 429, want 1", st.RateLimited)
		}
		if len(waits) != 1 || waits[0] <= 0 || waits[0] > window {
			t.Errorf("retry waits %v, want one wait of at most %s from retry_after", waits, window)
		}
		if elapsed < window-time.Second || elapsed > window+time.Second {
			t.Errorf("the calls took %s, want about the %s window", elapsed, window)
		}
	})
}
