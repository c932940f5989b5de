package pacing

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/didip/tollbooth/v7"
	"github.com/go-chi/httprate"
	"github.com/gofiber/fiber/v2"
	fiberlimiter "github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/memstore"
	ulule "github.com/ulule/limiter/v3"
	ululestdlib "github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"
)

// A limiterSpec is one row of the matrix: a real rate limiter behind its own
// HTTP middleware (or, where the library has none, the headers its docs
// recommend), on a loopback server.
type limiterSpec struct {
	name string
	// algo is the algorithm, as the library implements it.
	algo string
	// rate is the steady allowed rate, in requests per second.
	rate float64
	// burst is the most the limiter admits in a run beyond rate × duration
	// (a token bucket's capacity; 0 for a window that starts at the first
	// hit, as a run of whole windows then gets exactly rate × duration).
	burst float64
	// start returns the URL of a fresh limiter (no state shared with any
	// other run) and stops it when tb ends.
	start func(tb testing.TB) string
}

const (
	steady = 20          // requests per window, for every limiter
	window = time.Second // the window, for every windowed limiter
)

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// serve starts h on a loopback httptest server, closed when tb ends.
func serve(tb testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL + "/"
}

func mustNil(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

var limiters = []limiterSpec{
	{
		// ulule/limiter v3, memory store, its stdlib middleware:
		// X-RateLimit-Limit, -Remaining, -Reset (Unix seconds, truncated).
		// The counter expires one period after the first hit of a window.
		name: "ulule-fixed-firsthit", algo: "fixed window, aligned to the first hit",
		rate: steady, burst: 0,
		start: func(tb testing.TB) string {
			l := ulule.New(ululemem.NewStore(), ulule.Rate{Period: window, Limit: steady})
			mw := ululestdlib.NewMiddleware(l, ululestdlib.WithKeyGetter(func(*http.Request) string { return "k" }))
			return serve(tb, mw.Handler(http.HandlerFunc(ok)))
		},
	},
	{
		// gofiber/fiber v2 limiter middleware, FixedWindow (its default): the
		// window is counted in whole Unix seconds of fiber's cached clock
		// (utils.Timestamp, stored by a 1 s ticker started once per
		// process), so windows turn over with that clock's ticks, whatever
		// the first hit. X-RateLimit-Limit, -Remaining, -Reset (whole
		// seconds until the reset) and, on 429, Retry-After. Served by
		// fasthttp, not net/http.
		name: "fiber-fixed-clock", algo: "fixed window, aligned to the server's cached whole-second clock",
		rate: steady, burst: steady,
		start: func(tb testing.TB) string {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.Use(fiberlimiter.New(fiberlimiter.Config{
				Max: steady, Expiration: window,
				KeyGenerator: func(*fiber.Ctx) string { return "k" },
			}))
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			mustNil(tb, err)
			go func() { _ = app.Listener(ln) }()
			tb.Cleanup(func() { _ = app.Shutdown() })
			return "http://" + ln.Addr().String() + "/"
		},
	},
	{
		// sethvargo/go-limiter memorystore + httplimit: a bucket of Tokens
		// refilled (to full, in practice) at every Interval tick counted from
		// the bucket's creation. X-RateLimit-Reset and Retry-After are RFC
		// 1123 dates (whole seconds, truncated).
		name: "sethvargo-bucket-interval", algo: "token bucket refilled per interval",
		rate: steady, burst: 0,
		start: func(tb testing.TB) string {
			st, err := memorystore.New(&memorystore.Config{Tokens: steady, Interval: window})
			mustNil(tb, err)
			tb.Cleanup(func() { _ = st.Close(context.Background()) })
			mw, err := httplimit.NewMiddleware(st, func(*http.Request) (string, error) { return "k", nil })
			mustNil(tb, err)
			return serve(tb, mw.Handle(http.HandlerFunc(ok)))
		},
	},
	{
		// go-chi/httprate with its default local counter: a sliding-window
		// counter (previous window weighted by the share of it still inside
		// the window) over windows aligned to the limiter's creation.
		// X-RateLimit-Limit, -Remaining, -Reset (Unix seconds); Retry-After
		// is always the window length.
		name: "httprate-sliding", algo: "sliding-window counter, aligned to the limiter's start",
		rate: steady, burst: 0,
		start: func(tb testing.TB) string {
			return serve(tb, httprate.LimitBy(steady, window, httprate.Key("k"))(http.HandlerFunc(ok)))
		},
	},
	{
		// The same middleware over an explicitly passed LocalLimitCounter:
		// httprate then keeps the windows aligned to the wall clock.
		name: "httprate-sliding-clock", algo: "sliding-window counter, aligned to the clock",
		rate: steady, burst: steady,
		start: func(tb testing.TB) string {
			return serve(tb, httprate.LimitBy(steady, window, httprate.Key("k"),
				httprate.WithLimitCounter(httprate.NewLocalLimitCounter(window)))(http.HandlerFunc(ok)))
		},
	},
	{
		// throttled/throttled v2 GCRA, memstore, its HTTPRateLimiterCtx:
		// X-RateLimit-Limit = MaxBurst+1, -Remaining, -Reset = seconds until
		// the bucket is full again, Retry-After = seconds until one request
		// is allowed (both rounded up).
		name: "throttled-gcra", algo: "GCRA with burst (MaxBurst 4)",
		rate: steady, burst: 5,
		start: func(tb testing.TB) string {
			st, err := memstore.NewCtx(64)
			mustNil(tb, err)
			rl, err := throttled.NewGCRARateLimiterCtx(st, throttled.RateQuota{MaxRate: throttled.PerSec(steady), MaxBurst: 4})
			mustNil(tb, err)
			h := throttled.HTTPRateLimiterCtx{RateLimiter: rl}
			return serve(tb, h.RateLimit(http.HandlerFunc(ok)))
		},
	},
	{
		// didip/tollbooth v7, an x/time/rate bucket per key (burst = max):
		// RateLimit-Limit, RateLimit-Remaining (tokens left) and a constant
		// RateLimit-Reset: 1, plus X-Rate-Limit-Limit / -Duration.
		name: "tollbooth-bucket", algo: "continuous token bucket (x/time/rate), burst 20",
		rate: steady, burst: steady,
		start: func(tb testing.TB) string {
			lmt := tollbooth.NewLimiter(steady, nil)
			return serve(tb, tollbooth.LimitHandler(lmt, http.HandlerFunc(ok)))
		},
	},
	{
		// golang.org/x/time/rate has no HTTP middleware. This wrapper sends
		// what the IETF draft (draft-ietf-httpapi-ratelimit-headers-09/10)
		// recommends, as a real server would for a bucket: RateLimit-Policy
		// "bucket";q=20;w=1 and RateLimit "bucket";r=<whole tokens left>;
		// t=<seconds until the bucket is full, rounded up>, and on a 429
		// Retry-After = seconds until the next token, rounded up.
		name: "xrate-bucket", algo: "continuous token bucket (x/time/rate), burst 10",
		rate: steady, burst: 10,
		start: func(tb testing.TB) string {
			const burst = 10
			l := rate.NewLimiter(steady, burst)
			return serve(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := time.Now()
				allowed := l.AllowN(now, 1)
				tokens := l.TokensAt(now)
				h := w.Header()
				h.Set("RateLimit-Policy", fmt.Sprintf(`"bucket";q=%d;w=1`, steady))
				full := math.Ceil((burst - tokens) / steady)
				h.Set("RateLimit", fmt.Sprintf(`"bucket";r=%d;t=%d`, int(math.Max(0, math.Floor(tokens))), int(full)))
				if !allowed {
					h.Set("Retry-After", strconv.Itoa(int(math.Ceil((1-tokens)/steady))))
					http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
					return
				}
				ok(w, r)
			}))
		},
	},
	// express-rate-limit (Node), MemoryStore: a fixed window per key that
	// starts at the key's first hit; RateLimit reset/t is seconds until
	// the reset, rounded up (always 1 with a 1 s window).
	nodeSpec("express-draft6", "draft-6"),
	nodeSpec("express-draft7", "draft-7"),
	nodeSpec("express-draft8", "draft-8"),
	nodeSpec("express-legacy", "legacy"),
	{
		// rolling-rate-limiter (Node) InMemoryRateLimiter: a sliding log of
		// every attempt, blocked ones included; no middleware, so
		// server.js sends IETF draft fields (see there).
		name: "rolling-sliding-log", algo: "sliding log (rolling-rate-limiter, blocked attempts logged)",
		rate: steady, burst: 0,
		start: func(tb testing.TB) string {
			return nodeURL(tb) + "sliding-log/?k=" + strconv.FormatInt(nodeKeys.Add(1), 10)
		},
	},
}

func nodeSpec(name, mode string) limiterSpec {
	return limiterSpec{
		name: name, algo: "fixed window, aligned to the first hit (" + mode + " headers)",
		rate: steady, burst: 0,
		start: func(tb testing.TB) string {
			return nodeURL(tb) + mode + "/?k=" + strconv.FormatInt(nodeKeys.Add(1), 10)
		},
	}
}
