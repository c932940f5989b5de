package apiauth_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/transport"
)

// stressCounts counts, per family, what the client side put on the wire:
// every request that reached the base transport, and the 401 and 429
// answers it got back.
type stressCounts struct {
	sent, token, unauthorized, limited atomic.Int64
}

// stressBase is the base transport of every client and token source in
// the stress test: it counts per family (the first path segment).
type stressBase struct {
	tr     *http.Transport
	counts map[string]*stressCounts
	total  atomic.Int64
	onSend func(n int64) // called with the running count of requests sent
}

func (b *stressBase) RoundTrip(req *http.Request) (*http.Response, error) {
	fam, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	c := b.counts[fam]
	c.sent.Add(1)
	if b.onSend != nil {
		b.onSend(b.total.Add(1))
	}
	if strings.HasSuffix(req.URL.Path, "/get-access-token") || strings.Contains(req.URL.Path, "/v1/auth/") {
		c.token.Add(1)
	}
	resp, err := b.tr.RoundTrip(req)
	if err == nil {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			c.unauthorized.Add(1)
		case http.StatusTooManyRequests:
			c.limited.Add(1)
		}
	}
	return resp, err
}

// TestStress runs many goroutines against every family at once, through
// shared clients and token caches, while tokens expire every second, the
// server injects 401s and 503s, and two families rate-limit hard. Every
// request must end with a response or a typed error; the requests each
// side counted must agree; no refresh token may be presented twice; and
// nothing may be left running. It is bounded: 24 goroutines, 960 requests
// over about 1.5 s.
func TestStress(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const workers, each = 24, 40

	fk := apiauthtest.Start(apiauthtest.Config{
		PlainHTTP:          true,
		ArtosTokenTTL:      time.Second,
		AudiModalTokenTTL:  time.Second,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: 60, Window: time.Second},
		VoltasisRateLimit:  apiauthtest.RateLimit{Limit: 40, Window: time.Minute},
	})
	defer fk.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	base := &stressBase{tr: tr, counts: map[string]*stressCounts{}}
	for _, f := range []apiauthtest.Family{apiauthtest.Artos, apiauthtest.Artanis, apiauthtest.Voltasis, apiauthtest.AudiModal} {
		base.counts[string(f)] = &stressCounts{}
	}
	hc := &http.Client{Transport: base}
	newClient := func(f apiauthtest.Family, cred transport.Credential, o apiauth.ClientOptions) *apiauth.Client {
		o.Base = base
		o.Retry = transport.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxWait: 5 * time.Millisecond}
		// Fail fast on the rate limit too: a pause past 5 ms is a typed
		// ErrRateLimited, so the run stays short and 429s stay visible.
		o.Pace = transport.PaceOptions{MaxWait: 5 * time.Millisecond}
		c, err := apiauth.NewClient(fk.URL(f), cred, &o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	var artosTokens, artosFailures, amTokens, amFailures atomic.Int64
	src, _ := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", apiauthtest.ArtosUserID, &apiauth.SourceOptions{HTTPClient: hc})
	artosCache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnToken:        func(*apiauth.Token) { artosTokens.Add(1) },
		OnRefreshError: func(error, time.Time) { artosFailures.Add(1) },
	})
	defer artosCache.Close()
	login, _ := apiauth.NewLoginSource(fk.URL(apiauthtest.AudiModal), apiauth.Login{
		Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID,
	}, &apiauth.SourceOptions{HTTPClient: hc})
	amCache := apiauth.NewTokenCache(login, &apiauth.CacheOptions{
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnToken:        func(*apiauth.Token) { amTokens.Add(1) },
		OnRefreshError: func(error, time.Time) { amFailures.Add(1) },
	})
	defer amCache.Close()
	pair, _ := apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug)
	vkey, _ := apiauth.NewStaticToken(apiauthtest.VoltasisAPIKey)
	akey, _ := apiauth.ParseAPIKey(apiauthtest.AudiModalTestKey)
	calls := []struct {
		name   string
		client *apiauth.Client
		path   string
	}{
		{"artos", newClient(apiauthtest.Artos, artosCache, apiauth.ClientOptions{}), "api/v1/documents/"},
		{"artanis", newClient(apiauthtest.Artanis, pair, apiauth.ClientOptions{}), "api/prompts?projectSlug=" + apiauthtest.ArtanisProjectSlug},
		{"voltasis", newClient(apiauthtest.Voltasis, vkey, apiauth.ClientOptions{}), "v1/auth/me"},
		{"audimodal session", newClient(apiauthtest.AudiModal, amCache, apiauth.ClientOptions{}), "v1/files"},
		{"audimodal key", newClient(apiauthtest.AudiModal, akey, apiauth.ClientOptions{}), "v1/health"},
	}

	// The fault injector: a 401 or a 503 queued for some request after
	// every fifth request sent, so that the mix of faults and answers is
	// the same however fast the machine runs the test.
	var injected atomic.Int64
	base.onSend = func(n int64) {
		if n%5 != 0 {
			return
		}
		status := http.StatusUnauthorized
		if n%10 == 0 {
			status = http.StatusServiceUnavailable
		}
		fk.FailRequests(1, apiauthtest.Fault{Status: status})
		injected.Add(1)
	}

	kinds := []struct {
		name string
		err  error
	}{
		{"ErrRateLimited", apiauth.ErrRateLimited},
		{"ErrUnauthorized", apiauth.ErrUnauthorized},
		{"ErrServer", apiauth.ErrServer},
		{"ErrTokenRefresh", apiauth.ErrTokenRefresh},
	}
	var ok atomic.Int64
	byKind := make([]atomic.Int64, len(kinds))
	var untyped atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if i > 0 {
					// Spread each worker's calls over more than one token
					// lifetime (1 s), so that tokens expire under load.
					time.Sleep(30 * time.Millisecond)
				}
				c := calls[(w+i)%len(calls)]
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				resp, err := c.client.Get(rctx, c.path, nil)
				rcancel()
				if err == nil {
					if resp == nil || resp.StatusCode >= 400 {
						t.Errorf("%s: no error, response %v", c.name, resp)
					}
					ok.Add(1)
					continue
				}
				typed := false
				for k, kind := range kinds {
					if errors.Is(err, kind.err) {
						byKind[k].Add(1)
						typed = true
						break
					}
				}
				if !typed {
					untyped.Add(1)
					t.Errorf("%s: untyped error: %v", c.name, err)
				}
			}
		}()
	}
	wg.Wait()
	base.onSend = nil
	fk.ClearFaults()

	// Every request ended with a response or a typed error.
	total := ok.Load() + untyped.Load()
	summary := []string{}
	for k := range kinds {
		total += byKind[k].Load()
		summary = append(summary, kinds[k].name+"="+strconv.FormatInt(byKind[k].Load(), 10))
	}
	if total != workers*each {
		t.Errorf("%d outcomes for %d requests", total, workers*each)
	}

	// Both sides counted the same requests, 401s and 429s.
	st := fk.Stats()
	for name, fs := range map[string]apiauthtest.FamilyStats{
		"artos": st.Artos, "artanis": st.Artanis, "voltasis": st.Voltasis, "audimodal": st.AudiModal,
	} {
		c := base.counts[name]
		if fs.Requests != c.sent.Load() {
			t.Errorf("%s: server received %d requests, the client sent %d", name, fs.Requests, c.sent.Load())
		}
		if fs.Unauthorized != c.unauthorized.Load() || fs.RateLimited != c.limited.Load() {
			t.Errorf("%s: server answered %d 401s and %d 429s, the client got %d and %d",
				name, fs.Unauthorized, fs.RateLimited, c.unauthorized.Load(), c.limited.Load())
		}
	}
	if f := st.Total().Faults; f > injected.Load() {
		t.Errorf("%d faults served, %d injected", f, injected.Load())
	}
	// Every Artos refresh made exactly one token request.
	if got, want := base.counts["artos"].token.Load(), artosTokens.Load()+artosFailures.Load(); got != want {
		t.Errorf("Artos: %d token requests, %d refreshes (%d adopted, %d failed)", got, want, artosTokens.Load(), artosFailures.Load())
	}
	// No single-use refresh token was presented twice.
	if st.AudiModal.RefreshRejections != 0 {
		t.Errorf("AudiModal rejected %d refresh tokens as spent or unknown", st.AudiModal.RefreshRejections)
	}
	// The run exercised what it claims to.
	if artosTokens.Load() < 2 || amTokens.Load() < 2 || st.AudiModal.Refreshes < 1 {
		t.Errorf("too few refreshes: Artos %d tokens, AudiModal %d tokens, %d refreshes", artosTokens.Load(), amTokens.Load(), st.AudiModal.Refreshes)
	}
	if byKind[0].Load() == 0 || st.Total().Unauthorized == 0 || st.Total().Faults == 0 {
		t.Errorf("no 429, 401 or injected fault: %s, stats %+v", strings.Join(summary, " "), st.Total())
	}
	t.Logf("%d requests in %s: %d ok, %s; server: %d requests, %d 401, %d 429, %d faults; Artos %d tokens (%d failed refreshes), AudiModal %d tokens (%d logins, %d refreshes)",
		workers*each, time.Since(start).Round(time.Millisecond), ok.Load(), strings.Join(summary, " "), st.Total().Requests, st.Total().Unauthorized, st.Total().RateLimited,
		st.Total().Faults, artosTokens.Load(), artosFailures.Load(), amTokens.Load(), st.AudiModal.Logins, st.AudiModal.Refreshes)
}
