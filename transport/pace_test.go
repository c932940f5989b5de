package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/testrt"
	"golang.org/x/time/rate"
)

// *rate.Limiter is a Limiter.
var _ Limiter = (*rate.Limiter)(nil)

// rlBody records whether it was closed.
type rlBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *rlBody) Close() error { b.closed.Store(true); return nil }

func rlGet(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func rlDrain(resp *http.Response) {
	if resp != nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Sixteen goroutines, three requests left in a window that resets in one
// second: exactly three reach the server before the reset, and none earns a
// 429.
func TestPaceSixteenWorkersThreeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // a whole second in the bubble
		reset := start.Add(time.Second)
		lim := &rlWindowLimiter{limit: 10, window: time.Second}
		lim.preload(start, 7)
		base := testrt.Func(func(req *http.Request) (*http.Response, error) {
			time.Sleep(10 * time.Millisecond) // on the way to the server
			resp, err := lim.roundTrip(req)
			time.Sleep(10 * time.Millisecond) // on the way back
			return resp, err
		})
		p := &Pace{Base: base}

		var wg sync.WaitGroup
		var tooMany atomic.Int32
		for range 16 {
			wg.Go(func() {
				resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/v1/files"))
				if err != nil {
					t.Errorf("RoundTrip: %v", err)
					return
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					tooMany.Add(1)
				}
				rlDrain(resp)
			})
		}
		wg.Wait()

		before := 0
		for _, at := range lim.arrivals {
			if at.Before(reset) {
				before++
			}
		}
		if before != 3 {
			t.Errorf("%d requests reached the server before the reset, want 3 (arrivals %v)", before, lim.arrivals)
		}
		if n := tooMany.Load(); n != 0 {
			t.Errorf("%d requests were answered 429, want 0", n)
		}
		if served, _ := lim.counts(); served != 16 {
			t.Errorf("server served %d requests, want 16", served)
		}
	})
}

// Nothing left and the reset an hour away, past MaxWait: the request fails
// at once with a *RateLimitError carrying the reset, without reaching Base,
// and its body is closed.
func TestPaceFailsFastPastMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reset := time.Now().Add(time.Hour)
		var calls atomic.Int64
		p := &Pace{Base: rlHeaderResponse(&calls, http.StatusTooManyRequests,
			"X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10)), PaceOptions: PaceOptions{MaxWait: time.Minute}}
		resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/v1/files"))
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("first RoundTrip = %v, %v; want the 429 response and a nil error", resp, err)
		}
		rlDrain(resp)

		body := &rlBody{Reader: strings.NewReader(`{"name":"x"}`)}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://api.example.com/v1/files", body)
		began := time.Now()
		resp, err = p.RoundTrip(req)
		if resp != nil {
			t.Errorf("got a response %v, want none", resp.Status)
		}
		var rle *RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("error %v is not a *RateLimitError", err)
		}
		if !errors.Is(err, errkind.RateLimited) {
			t.Errorf("error %v does not match errkind.RateLimited", err)
		}
		if !rle.Reset.Equal(reset) || rle.RetryAfter != time.Hour || rle.MaxWait != time.Minute || rle.Err != nil {
			t.Errorf("RateLimitError = %+v, want Reset %v, RetryAfter 1h, MaxWait 1m", rle, reset)
		}
		if waited := time.Since(began); waited != 0 {
			t.Errorf("refusal took %v, want no wait", waited)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("Base called %d times, want 1 (only the first request)", n)
		}
		if !body.closed.Load() {
			t.Error("request body not closed on early return")
		}
	})
}

// Nothing left and the reset within MaxWait: the request waits for the
// reset, reports the wait through OnWait, and then goes.
func TestPaceWaitsForReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reset := start.Add(5 * time.Second)
		var calls atomic.Int64
		var waits []time.Duration
		p := &Pace{Base: rlHeaderResponse(&calls, http.StatusOK,
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10)), PaceOptions: PaceOptions{OnWait: func(req *http.Request, d time.Duration) { waits = append(waits, d) }}}
		for range 2 {
			resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/v1/files"))
			if err != nil {
				t.Fatal(err)
			}
			rlDrain(resp)
		}
		if got := time.Since(start); got != 5*time.Second {
			t.Errorf("second request went after %v, want 5s (the reset)", got)
		}
		if len(waits) != 1 || waits[0] != 5*time.Second {
			t.Errorf("OnWait saw %v, want [5s]", waits)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("Base called %d times, want 2", n)
		}
	})
}

// A cancelled context ends a 30 s wait at once, with an error wrapping
// ctx.Err(); so does one waiting its turn behind it.
func TestPaceWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reset := time.Now().Add(30 * time.Second)
		var calls atomic.Int64
		p := &Pace{Base: rlHeaderResponse(&calls, http.StatusTooManyRequests,
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))}
		resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)

		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				began := time.Now()
				body := &rlBody{Reader: strings.NewReader("x")}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "https://api.example.com/", body)
				_, err := p.RoundTrip(req)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("RoundTrip error = %v, want one wrapping context.Canceled", err)
				}
				if took := time.Since(began); took > 50*time.Millisecond {
					t.Errorf("cancelled wait returned after %v, want under 50ms", took)
				}
				if !body.closed.Load() {
					t.Error("request body not closed after cancellation")
				}
			})
		}
		time.Sleep(10 * time.Millisecond)
		cancel()
		wg.Wait()

		// A deadline the wait would outlast fails at once, typed, like
		// rate.Limiter.Wait, instead of sleeping until the deadline.
		dctx, dcancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer dcancel()
		began := time.Now()
		_, err = p.RoundTrip(rlGet(t, dctx, "https://api.example.com/"))
		var rl *RateLimitError
		if !errors.As(err, &rl) || !rl.Reset.Equal(reset.Truncate(time.Second)) || time.Since(began) != 0 {
			t.Errorf("RoundTrip error = %v after %v, want an immediate *RateLimitError with the reset", err, time.Since(began))
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("Base called %d times, want 1", n)
		}
	})
}

// 10,000 distinct keys leave at most MaxKeys states, dropping the least
// recently used.
func TestPaceStateIsBounded(t *testing.T) {
	for _, tt := range []struct{ maxKeys, want int }{{0, DefaultPaceMaxKeys}, {100, 100}} {
		p := &Pace{Base: rlHeaderResponse(nil, http.StatusOK, "X-RateLimit-Remaining", "5"), PaceOptions: PaceOptions{MaxKeys: tt.maxKeys}}
		for i := range 10000 {
			host := fmt.Sprintf("h%d.example.com", i)
			if i%10 == 0 {
				host = "hot.example.com"
			}
			resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://"+host+"/"))
			if err != nil {
				t.Fatal(err)
			}
			rlDrain(resp)
		}
		p.mu.Lock()
		n, l := len(p.keys), p.lru.Len()
		_, hot := p.keys[paceKey{host: "hot.example.com"}]
		p.mu.Unlock()
		if n > tt.want || l != n {
			t.Errorf("MaxKeys %d: %d keys (%d in LRU), want at most %d", tt.maxKeys, n, l, tt.want)
		}
		if !hot {
			t.Errorf("MaxKeys %d: the most used key was evicted", tt.maxKeys)
		}
	}
}

// Two credentials calling one host have separate budgets, and hooks and
// identities never carry the secret.
func TestPaceKeysByCredential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		base := testrt.Func(func(req *http.Request) (*http.Response, error) {
			remaining := "100"
			if req.Header.Get("Authorization") == "Bearer sk_live_exhausted" {
				remaining = "0"
			}
			return rlHeaderResponse(nil, http.StatusOK,
				"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset)(req)
		})
		var hosts []string
		p := &Pace{Base: base, PaceOptions: PaceOptions{OnRateLimit: func(host string, rl RateLimit) { hosts = append(hosts, host) }}}
		do := func(key string) error {
			req := rlGet(t, t.Context(), "https://api.example.com/v1/files")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := p.RoundTrip(req)
			rlDrain(resp)
			return err
		}
		if err := do("sk_live_exhausted"); err != nil {
			t.Fatal(err)
		}
		if err := do("sk_live_exhausted"); !errors.Is(err, errkind.RateLimited) {
			t.Errorf("exhausted key: error %v, want a rate-limit error", err)
		}
		if err := do("sk_live_fresh"); err != nil {
			t.Errorf("another key on the same host was held back: %v", err)
		}
		for _, h := range hosts {
			if h != "api.example.com" {
				t.Errorf("OnRateLimit got key %q, want the bare host", h)
			}
		}
		if len(hosts) != 2 {
			t.Errorf("OnRateLimit called %d times, want 2", len(hosts))
		}
		p.mu.Lock()
		for k := range p.keys {
			if strings.Contains(k.host+k.id, "sk_live") {
				t.Errorf("state key %q contains the secret", k)
			}
		}
		p.mu.Unlock()
	})
}

func TestDefaultIdentity(t *testing.T) {
	req := func(kv ...string) *http.Request {
		r := rlGet(t, t.Context(), "https://api.example.com/")
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		return r
	}
	if id := DefaultIdentity(req()); id != "" {
		t.Errorf("identity without credentials = %q, want empty", id)
	}
	a := DefaultIdentity(req("Authorization", "Bearer sk_live_1234567890abcdef"))
	b := DefaultIdentity(req("Authorization", "Bearer sk_live_1234567890abcdeg"))
	c := DefaultIdentity(req("X-Api-Key", "Bearer sk_live_1234567890abcdef"))
	if len(a) != 32 || a == b || a == c || b == c {
		t.Errorf("identities %q %q %q: want distinct 32-character hashes", a, b, c)
	}
	if a != DefaultIdentity(req("Authorization", "Bearer sk_live_1234567890abcdef")) {
		t.Error("identity is not stable")
	}
	if strings.Contains(a, "sk_live") || strings.Contains(a, "1234567890") {
		t.Errorf("identity %q contains the secret", a)
	}
}

// Pace never modifies the caller's request.
func TestPaceDoesNotMutateRequest(t *testing.T) {
	var seen *http.Request
	p := &Pace{Base: testrt.Func(func(req *http.Request) (*http.Response, error) {
		seen = req
		return rlHeaderResponse(nil, http.StatusOK, "X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "30")(req)
	})}
	req := rlGet(t, t.Context(), "https://api.example.com/v1/files?page=2")
	req.Header.Set("Authorization", "Bearer sk_test_abc")
	want := req.Clone(req.Context())
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	rlDrain(resp)
	if req.URL.String() != want.URL.String() || req.Method != want.Method || !reflect.DeepEqual(req.Header, want.Header) {
		t.Errorf("request changed: %v %v %v", req.Method, req.URL, req.Header)
	}
	if seen == nil {
		t.Fatal("Base not called")
	}
}

// The optional client-side limiter runs before every request; its error
// fails the request without reaching Base.
func TestPaceLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		p := &Pace{Base: rlHeaderResponse(&calls, http.StatusOK), PaceOptions: PaceOptions{Limiter: rate.NewLimiter(rate.Every(100*time.Millisecond), 1)}}
		start := time.Now()
		for range 3 {
			resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
			if err != nil {
				t.Fatal(err)
			}
			rlDrain(resp)
		}
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Errorf("three requests at 10/s took %v, want 200ms", got)
		}

		errLimit := errors.New("limiter says no")
		p2 := &Pace{Base: rlHeaderResponse(&calls, http.StatusOK), PaceOptions: PaceOptions{Limiter: rlLimiterFunc(func(context.Context) error { return errLimit })}}
		body := &rlBody{Reader: strings.NewReader("x")}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://api.example.com/", body)
		if _, err := p2.RoundTrip(req); !errors.Is(err, errLimit) {
			t.Errorf("RoundTrip error = %v, want one wrapping the limiter's", err)
		}
		if !body.closed.Load() {
			t.Error("request body not closed")
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("Base called %d times, want 3", n)
		}
	})
}

type rlLimiterFunc func(context.Context) error

func (f rlLimiterFunc) Wait(ctx context.Context) error { return f(ctx) }

// A transport error passes through untouched and does not hold back the
// next request.
func TestPaceBaseErrorDoesNotWedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDial := errors.New("dial tcp: connection refused")
		n := 0
		p := &Pace{Base: testrt.Func(func(req *http.Request) (*http.Response, error) {
			n++
			if n == 1 {
				return nil, errDial
			}
			return rlHeaderResponse(nil, http.StatusOK, "X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "60")(req)
		})}
		if _, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/")); err != errDial {
			t.Errorf("RoundTrip error = %v, want the Base's error itself", err)
		}
		start := time.Now()
		resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		if waited := time.Since(start); waited != 0 {
			t.Errorf("request after a transport error waited %v", waited)
		}
	})
}

// paceScenario describes a simulated run: 16 workers calling through one or
// more Pace layers (one per simulated process sharing the key) for ten
// windows against an rlWindowLimiter, in a synctest bubble.
type paceScenario struct {
	sliding bool
	limit   int
	window  time.Duration
	phase   time.Duration // how far into a window the run starts
	rtt     time.Duration
	clients int // Pace layers sharing the key; 0 means 1
	shared  SharedBudget
	respond func(*rlWindowLimiter, time.Time, http.ResponseWriter)
}

// run plays the scenario and returns the server's limiter, the first Pace,
// goodput/limit and limited/op.
func (sc paceScenario) run(t *testing.T) (lim *rlWindowLimiter, p *Pace, goodput, limited float64) {
	const windows = 10
	lim = &rlWindowLimiter{limit: sc.limit, window: sc.window, sliding: sc.sliding}
	time.Sleep(time.Until(time.Now().Truncate(sc.window).Add(sc.window + sc.phase)))
	start := time.Now()
	lim.stopAt = start.Add(windows * sc.window)
	paces := make([]*Pace, max(sc.clients, 1))
	for i := range paces {
		paces[i] = &Pace{Base: testrt.Func(func(req *http.Request) (*http.Response, error) {
			time.Sleep(sc.rtt / 2)
			rec := rlNewMemResponse(req)
			sc.respond(lim, time.Now(), rec)
			time.Sleep(sc.rtt / 2)
			return rec.response(), nil
		}), PaceOptions: PaceOptions{Shared: sc.shared}}
	}
	ctx, cancel := context.WithDeadline(t.Context(), lim.stopAt)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 16 {
		p := paces[i%len(paces)]
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := p.RoundTrip(rlGet(t, ctx, "https://api.example.com/v1/files"))
				var rl *RateLimitError
				if errors.As(err, &rl) && rl.Reset.After(lim.stopAt) {
					return // the next slot is past the end of the run
				}
				if err != nil && ctx.Err() == nil {
					t.Errorf("RoundTrip: %v", err)
					return
				}
				rlDrain(resp)
			}
		})
	}
	wg.Wait()
	served, refused := lim.counts()
	goodput = float64(served) / float64(sc.limit*windows)
	limited = float64(refused) / float64(served+refused)
	return lim, paces[0], goodput, limited
}

func (l *rlWindowLimiter) respondXRateLimit(now time.Time, w http.ResponseWriter) { l.respond(now, w) }

// respondIETF answers with the IETF draft -08 fields instead.
func (l *rlWindowLimiter) respondIETF(now time.Time, w http.ResponseWriter) {
	ok, remaining, reset := l.take(now)
	w.Header().Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, l.limit, int(l.window.Seconds())))
	t := int(math.Ceil(reset.Sub(now).Seconds()))
	w.Header().Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, remaining, t))
	if !ok {
		w.WriteHeader(http.StatusTooManyRequests)
	}
}

// Against both a fixed and a sliding window, in fake time: almost no 429s
// and at least 95% of the advertised throughput, with each window's requests
// spread over it rather than spent at its start.
func TestPaceKeepsUnderFixedAndSlidingWindows(t *testing.T) {
	for _, tt := range []struct {
		name    string
		sliding bool
		limit   int
		window  time.Duration
		respond func(*rlWindowLimiter, time.Time, http.ResponseWriter)
	}{
		// Epoch-seconds resets on one-second windows, as in the benchmark.
		{"fixed/x-ratelimit", false, 50, time.Second, (*rlWindowLimiter).respondXRateLimit},
		{"sliding/x-ratelimit", true, 50, time.Second, (*rlWindowLimiter).respondXRateLimit},
		// Whole seconds until the reset jitter by up to a second, so the
		// windows are longer here.
		{"fixed/ietf", false, 100, 10 * time.Second, (*rlWindowLimiter).respondIETF},
		{"sliding/ietf", true, 100, 10 * time.Second, (*rlWindowLimiter).respondIETF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := paceScenario{sliding: tt.sliding, limit: tt.limit, window: tt.window, phase: tt.window / 3,
					rtt: time.Millisecond, respond: tt.respond}
				lim, p, goodput, limited := sc.run(t)
				t.Logf("goodput/limit %.3f, limited/op %.4f", goodput, limited)
				if limited > 0.01 {
					t.Errorf("limited/op = %.4f, want at most 0.01", limited)
				}
				if goodput < 0.95 {
					t.Errorf("goodput/limit = %.3f, want at least 0.95", goodput)
				}

				// Smoothness: in every whole window, the first half carries
				// at most 60% of the window's requests.
				perWindow := map[int64][2]int{}
				for _, at := range lim.arrivals {
					idx := at.UnixNano() / int64(lim.window)
					c := perWindow[idx]
					if at.Sub(time.Unix(0, idx*int64(lim.window))) < lim.window/2 {
						c[0]++
					}
					c[1]++
					perWindow[idx] = c
				}
				first := lim.arrivals[0].UnixNano() / int64(lim.window)
				last := lim.stopAt.UnixNano() / int64(lim.window)
				for idx, c := range perWindow {
					if idx == first || idx >= last {
						continue
					}
					if float64(c[0]) > 0.6*float64(c[1]) {
						t.Errorf("window %d: %d of %d requests in its first half", idx-first, c[0], c[1])
					}
				}

				p.mu.Lock()
				defer p.mu.Unlock()
				e := p.keys[paceKey{host: "api.example.com"}].Value.(*paceEntry)
				if e.window != tt.window || e.sliding != tt.sliding {
					t.Errorf("learned window %v, sliding %v; want %v, %v", e.window, e.sliding, tt.window, tt.sliding)
				}
			})
		})
	}
}

// Whatever the phase at which a client starts and whatever the round trip,
// almost no 429s and at least 95% of the advertised throughput.
func TestPaceStartPhaseAndLatency(t *testing.T) {
	for _, sliding := range []bool{false, true} {
		for _, rtt := range []time.Duration{time.Millisecond, 60 * time.Millisecond} {
			for _, phase := range []time.Duration{0, 500 * time.Millisecond, 995 * time.Millisecond} {
				name := fmt.Sprintf("sliding=%v/rtt=%v/phase=%v", sliding, rtt, phase)
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						sc := paceScenario{sliding: sliding, limit: 50, window: time.Second, phase: phase, rtt: rtt,
							respond: (*rlWindowLimiter).respondXRateLimit}
						_, _, goodput, limited := sc.run(t)
						if limited > 0.01 || goodput < 0.95 {
							t.Errorf("goodput/limit %.3f, limited/op %.4f; want >= 0.95 and <= 0.01", goodput, limited)
						}
					})
				})
			}
		}
	}
}

// rlRespondDelta answers with X-RateLimit-Reset as whole seconds until the
// reset (Envoy style), rounded up or down.
func rlRespondDelta(roundUp bool) func(*rlWindowLimiter, time.Time, http.ResponseWriter) {
	return func(l *rlWindowLimiter, now time.Time, w http.ResponseWriter) {
		ok, remaining, reset := l.take(now)
		secs := reset.Sub(now).Seconds()
		if roundUp {
			secs = math.Ceil(secs)
		}
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(l.limit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-RateLimit-Reset", strconv.Itoa(int(secs)))
		if !ok {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}
}

// Resets given as whole seconds until the reset jitter by up to a second;
// the window is still learned closely enough to stay under the limit.
func TestPaceDeltaResets(t *testing.T) {
	for _, sliding := range []bool{false, true} {
		for _, roundUp := range []bool{false, true} {
			t.Run(fmt.Sprintf("sliding=%v/roundUp=%v", sliding, roundUp), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					sc := paceScenario{sliding: sliding, limit: 100, window: 10 * time.Second, phase: 3 * time.Second,
						rtt: 2 * time.Millisecond, respond: rlRespondDelta(roundUp)}
					_, p, goodput, limited := sc.run(t)
					if limited > 0.01 || goodput < 0.95 {
						t.Errorf("goodput/limit %.3f, limited/op %.4f; want >= 0.95 and <= 0.01", goodput, limited)
					}
					p.mu.Lock()
					defer p.mu.Unlock()
					e := p.keys[paceKey{host: "api.example.com"}].Value.(*paceEntry)
					if d := (e.window - 10*time.Second).Abs(); d > 200*time.Millisecond {
						t.Errorf("learned window %v, want 10s within 200ms", e.window)
					}
				})
			})
		}
	}
}

// Two uncoordinated processes sharing one key on a fixed-window server: the
// remaining count holds both back, so few of their requests earn a 429.
func TestPaceSharedKeyFixedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := paceScenario{limit: 50, window: time.Second, phase: 300 * time.Millisecond, rtt: time.Millisecond,
			clients: 2, respond: (*rlWindowLimiter).respondXRateLimit}
		_, _, goodput, limited := sc.run(t)
		t.Logf("goodput/limit %.3f, limited/op %.4f", goodput, limited)
		if limited > 0.05 || goodput < 0.95 {
			t.Errorf("goodput/limit %.3f, limited/op %.4f; want >= 0.95 and <= 0.05", goodput, limited)
		}
	})
}

// With a nil Base, Pace uses its own clone of http.DefaultTransport.
func TestPaceNilBaseClonesDefault(t *testing.T) {
	p := &Pace{}
	p.init()
	tr, ok := p.base.(*http.Transport)
	if !ok || tr == http.DefaultTransport {
		t.Errorf("base = %T %p, want a clone of http.DefaultTransport", p.base, p.base)
	}
}

// Log lines name the host and the wait, never the credential or the query.
func TestPaceLogIsRedacted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		reset := strconv.FormatInt(time.Now().Add(2*time.Second).Unix(), 10)
		p := &Pace{Base: rlHeaderResponse(nil, http.StatusTooManyRequests,
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset), PaceOptions: PaceOptions{Logger: logger, MaxWait: time.Second}}
		for range 2 {
			req := rlGet(t, t.Context(), "https://api.example.com/v1/files?api_key=qwerty")
			req.Header.Set("Authorization", "Bearer sk_live_topsecret")
			resp, _ := p.RoundTrip(req)
			rlDrain(resp)
		}
		out := buf.String()
		for _, want := range []string{"apiauth: rate limit: snapshot", "apiauth: rate limit: request refused", "host=api.example.com"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		id := DefaultIdentity(&http.Request{Header: http.Header{"Authorization": {"Bearer sk_live_topsecret"}}})
		for _, secret := range []string{"topsecret", "qwerty", "api_key", "/v1/files", id} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains %q:\n%s", secret, out)
			}
		}
	})
}

// The defaults stated in the field docs are the ones the code applies.
func TestPaceDocumentedDefaults(t *testing.T) {
	p := &Pace{}
	p.init()
	if p.cfg.maxWait != DefaultPaceMaxWait || p.cfg.maxKeys != DefaultPaceMaxKeys || p.cfg.util != DefaultPaceUtilization {
		t.Errorf("zero Pace config = %+v", p.cfg)
	}
	docs := rlFieldDocs(t, "pace.go", "PaceOptions")
	for field, want := range map[string]string{
		"MaxWait":     fmt.Sprintf("(%d s)", int(DefaultPaceMaxWait.Seconds())),
		"MaxKeys":     fmt.Sprintf("(%d)", DefaultPaceMaxKeys),
		"Utilization": fmt.Sprintf("(%v)", DefaultPaceUtilization),
	} {
		if !strings.Contains(docs[field], want) {
			t.Errorf("doc of PaceOptions.%s does not state the default %s:\n%s", field, want, docs[field])
		}
	}
	for _, bad := range []float64{-1, 1.5} {
		p := &Pace{PaceOptions: PaceOptions{Utilization: bad}}
		p.init()
		if p.cfg.util != DefaultPaceUtilization {
			t.Errorf("Utilization %v: effective %v, want the default", bad, p.cfg.util)
		}
	}
}

func rlFieldDocs(t *testing.T, file, typ string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typ {
			return true
		}
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range fl.Names {
				docs[name.Name] = fl.Doc.Text()
			}
		}
		return false
	})
	return docs
}

// MaxWait bounds pacing pauses too; a negative MaxWait waits as long as the
// context allows.
func TestPaceMaxWaitVariants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Ten requests per 10 s window, nine left: once the first answer
		// is in, one request goes at once and the next is due about a
		// second later, past a 10 ms MaxWait.
		p := &Pace{Base: rlHeaderResponse(nil, http.StatusOK, "RateLimit", `"default";r=9;t=10`,
			"RateLimit-Policy", `"default";q=10;w=10`), PaceOptions: PaceOptions{MaxWait: 10 * time.Millisecond}}
		for range 2 {
			resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
			if err != nil {
				t.Fatal(err)
			}
			rlDrain(resp)
		}
		_, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
		var rle *RateLimitError
		if !errors.As(err, &rle) || rle.RetryAfter < time.Second || rle.MaxWait != 10*time.Millisecond {
			t.Errorf("paced request past MaxWait: error %v (%+v), want a *RateLimitError with a wait over 1s", err, rle)
		}

		// Nothing left for an hour, no maximum: the request waits until its
		// context ends.
		reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
		p = &Pace{Base: rlHeaderResponse(nil, http.StatusTooManyRequests,
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset), PaceOptions: PaceOptions{MaxWait: -1}}
		resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(5*time.Minute, cancel)
		began := time.Now()
		_, err = p.RoundTrip(rlGet(t, ctx, "https://api.example.com/"))
		if !errors.Is(err, context.Canceled) || time.Since(began) != 5*time.Minute {
			t.Errorf("unbounded wait ended after %v with %v, want the cancellation at 5m", time.Since(began), err)
		}
		// With a deadline the hour-long wait would outlast, it fails at once.
		dctx, dcancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer dcancel()
		began = time.Now()
		_, err = p.RoundTrip(rlGet(t, dctx, "https://api.example.com/"))
		if !errors.As(err, &rle) || time.Since(began) != 0 {
			t.Errorf("wait past the deadline: %v after %v, want an immediate *RateLimitError", err, time.Since(began))
		}
	})
}

// An answer that left before the current snapshot was read cannot raise
// the remaining count of the same window.
func TestPaceEntryIgnoresOverTakenAnswer(t *testing.T) {
	t0 := time.Unix(1640991600, 0)
	reset := t0.Add(time.Minute)
	e := &paceEntry{}
	snap := func(remaining int64) RateLimit {
		return RateLimit{Limit: 100, Remaining: remaining, Used: -1, Reset: reset, Present: true}
	}
	e.inflight = 2
	e.complete(t0.Add(20*time.Millisecond), paceTicket{sent: t0.Add(10 * time.Millisecond)}, 200, snap(5), ResetEpochSeconds)
	e.complete(t0.Add(30*time.Millisecond), paceTicket{sent: t0}, 200, snap(8), ResetEpochSeconds)
	if e.remaining != 5 || e.inflight != 0 {
		t.Errorf("remaining %d, in flight %d; want 5 and 0", e.remaining, e.inflight)
	}
	// A newer answer may raise it (the server granted more).
	e.complete(t0.Add(50*time.Millisecond), paceTicket{sent: t0.Add(40 * time.Millisecond)}, 200, snap(50), ResetEpochSeconds)
	if e.remaining != 50 {
		t.Errorf("remaining %d after a newer answer, want 50", e.remaining)
	}
}

// Under the sliding model a 429 backs off from one refill interval,
// doubling, and one success ends the back-off.
func TestPaceEntrySlidingBackoff(t *testing.T) {
	t0 := time.Unix(1640991600, 0)
	c := &paceConfig{maxWait: time.Minute, maxKeys: 1, util: 0.97}
	e := &paceEntry{limited: true, sliding: true, limit: 50, window: time.Second, remaining: 0,
		reset: t0.Add(time.Second), resetRaw: t0.Add(time.Second), observed: t0, basis: t0}
	rl := RateLimit{Limit: 50, Remaining: 0, Used: 50, Reset: t0.Add(time.Second), Present: true}
	for i, want := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		e.inflight++
		e.complete(now, paceTicket{sent: now}, http.StatusTooManyRequests, rl, ResetEpochSeconds)
		if d, err := e.decide(now, c); d != want || err != nil {
			t.Errorf("after %d refusals: wait %v (%v), want %v", i+1, d, err, want)
		}
	}
	e.inflight++
	e.complete(t0.Add(100*time.Millisecond), paceTicket{sent: t0.Add(99 * time.Millisecond)}, http.StatusOK, rl, ResetEpochSeconds)
	if e.strikes != 0 {
		t.Errorf("strikes %d after a success, want 0", e.strikes)
	}
}

// Requests in flight count against what is left: with three left and three
// in flight, the next request waits for the reset.
func TestPaceEntryCountsInFlight(t *testing.T) {
	t0 := time.Unix(1640991600, 0)
	c := &paceConfig{maxWait: time.Minute, maxKeys: 1, util: 0.97}
	e := &paceEntry{seen: true, limited: true, limit: 10, remaining: 3, inflight: 3,
		reset: t0.Add(30 * time.Second), resetRaw: t0.Add(30 * time.Second), observed: t0, basis: t0}
	if d, err := e.decide(t0, c); d != 30*time.Second || err != nil {
		t.Errorf("three left, three in flight: wait %v (%v), want 30s", d, err)
	}
	e.inflight = 2
	if d, err := e.decide(t0, c); d != 0 || err != nil {
		t.Errorf("three left, two in flight: wait %v (%v), want 0", d, err)
	}
}

// A key whose pacing gap is shorter than a timer wake-up (a high limit)
// keeps its planned rate when every sleep runs late: the lateness is made
// up by the next requests going at once, instead of each request waiting a
// whole wake-up. An idle spell longer than paceCatchUp is not made up.
func TestPaceEntryMakesUpLateWakeUps(t *testing.T) {
	t0 := time.Unix(1640991600, 0)
	c := &paceConfig{maxWait: time.Minute, maxKeys: 1, util: 1}
	const oversleep = 50 * time.Microsecond
	for _, gap := range []time.Duration{5 * time.Microsecond, 40 * time.Microsecond, 2 * time.Millisecond, 20 * time.Millisecond} {
		e := &paceEntry{seen: true, limited: true, limit: int64(time.Second / gap), remaining: 1 << 40,
			window: time.Second, reset: t0.Add(time.Hour), resetRaw: t0.Add(time.Hour), observed: t0, basis: t0}
		now := t0
		const n = 2000
		for i := 0; i < n; i++ {
			d, err := e.decide(now, c)
			if err != nil {
				t.Fatal(err)
			}
			if d > 0 {
				now = now.Add(d + oversleep) // a timer that always fires late
			}
			e.dispatch(now, c)
			e.inflight-- // answered at once
		}
		// The n-th request is due (n-1) gaps after the first; allow one
		// wake-up of lateness.
		want := time.Duration(n-1) * gap
		if got := now.Sub(t0); got < want || got > want+oversleep {
			t.Errorf("gap %v: %d requests took %v, want %v (+ at most %v)", gap, n, got, want, oversleep)
		}
	}

	// After an idle spell, pacing starts again from now: no burst of the
	// budget the idle time would have allowed.
	gap := 10 * time.Microsecond
	e := &paceEntry{seen: true, limited: true, limit: int64(time.Second / gap), remaining: 1 << 40,
		window: time.Second, reset: t0.Add(time.Hour), resetRaw: t0.Add(time.Hour), observed: t0, basis: t0}
	e.dispatch(t0, c)
	e.inflight--
	idle := t0.Add(time.Second)
	e.dispatch(idle, c)
	e.inflight--
	if d, _ := e.decide(idle, c); d <= 0 {
		t.Errorf("after a 1s idle spell the second request of a burst may go at once (wait %v): idle time was made up", d)
	}
}

// rlGCRA is an in-memory SharedBudget: a generic cell rate algorithm, as a
// Redis implementation would run it for a fleet.
type rlGCRA struct {
	mu    sync.Mutex
	tat   map[string]time.Time
	calls int
	fail  bool
}

func (g *rlGCRA) Reserve(_ context.Context, key string, rate float64, window time.Duration) (time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.fail {
		return 0, errors.New("shared budget down")
	}
	if g.tat == nil {
		g.tat = map[string]time.Time{}
	}
	now := time.Now()
	t := g.tat[key]
	if t.Before(now) {
		t = now
	}
	g.tat[key] = t.Add(time.Duration(float64(window) / rate))
	return t.Sub(now), nil
}

// Four processes (Pace layers) behind one key: alone, each paces to the
// whole limit and together they overrun it; with a shared budget they stay
// inside it, on fixed and sliding windows alike.
func TestPaceSharedBudgetAcrossProcesses(t *testing.T) {
	for _, sliding := range []bool{false, true} {
		for _, shared := range []bool{false, true} {
			name := fmt.Sprintf("sliding=%v/shared=%v", sliding, shared)
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					sc := paceScenario{sliding: sliding, limit: 50, window: time.Second, phase: 300 * time.Millisecond,
						rtt: time.Millisecond, clients: 4, respond: (*rlWindowLimiter).respondXRateLimit}
					g := &rlGCRA{}
					if shared {
						sc.shared = g
					}
					_, _, goodput, limited := sc.run(t)
					t.Logf("goodput/limit %.3f, limited/op %.4f, shared reservations %d", goodput, limited, g.calls)
					switch {
					case shared && (limited > 0.01 || goodput < 0.9):
						t.Errorf("shared: goodput/limit %.3f, limited/op %.4f; want >= 0.9 and <= 0.01", goodput, limited)
					case !shared && sliding && limited < 0.05:
						t.Errorf("unshared on a sliding window: limited/op %.4f; the overrun this test relies on is gone", limited)
					}
				})
			})
		}
	}
}

// A shared budget that fails is skipped: requests still go, paced locally.
func TestPaceSharedBudgetDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &rlGCRA{fail: true}
		sc := paceScenario{limit: 50, window: time.Second, phase: 300 * time.Millisecond, rtt: time.Millisecond,
			respond: (*rlWindowLimiter).respondXRateLimit, shared: g}
		_, _, goodput, limited := sc.run(t)
		if g.calls == 0 || goodput < 0.9 || limited > 0.01 {
			t.Errorf("budget down: %d reservations tried, goodput/limit %.3f, limited/op %.4f", g.calls, goodput, limited)
		}
	})
}

// What a process books in a shared budget: nothing before an answer; what
// is left until the reset while the window is unknown; the limit per
// shortest possible window once that reset has passed (to space the
// processes' probes of the new window); the limit per window once known.
func TestPaceEntrySharedRate(t *testing.T) {
	t0 := time.Unix(1640991600, 0)
	for _, tt := range []struct {
		name   string
		e      paceEntry
		rate   float64
		window time.Duration
	}{
		{"nothing known", paceEntry{}, 0, 0},
		{"left until the reset", paceEntry{limited: true, limit: 50, remaining: 20, reset: t0.Add(500 * time.Millisecond)}, 20 * 0.5, 500 * time.Millisecond},
		{"reset passed, window unknown", paceEntry{limited: true, limit: 50, remaining: 20, reset: t0}, 50 * 0.5, paceMinWindow},
		{"reset passed, no limit", paceEntry{limited: true, remaining: 20, reset: t0}, 0, 0},
		{"nothing left", paceEntry{limited: true, remaining: 0, reset: t0.Add(time.Second)}, 0, 0},
		{"window known", paceEntry{limited: true, limit: 50, window: time.Minute, remaining: 0, reset: t0}, 50 * 0.5, time.Minute},
	} {
		rate, window := tt.e.sharedRate(t0, 0.5)
		if rate != tt.rate || window != tt.window {
			t.Errorf("%s: %v per %v, want %v per %v", tt.name, rate, window, tt.rate, tt.window)
		}
	}
}
