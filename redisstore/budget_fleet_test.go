package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
	"github.com/apiauth/apiauth/transport"
)

// The shared-budget fleet: four OS processes (the test binary re-executed,
// see TestHelperProcess) behind one AudiModal API key, each running four
// workers that call GET /v1/health as fast as their Pace lets them, against
// one fake AudiModal that allows budgetLimit requests per budgetWindow to
// the key (fixed windows, X-RateLimit-* headers with an epoch reset).
//
// The clients have no retries (Retry.MaxAttempts 1): a worker whose request
// is refused with 429 counts it and moves on, as in the transport package's
// BenchmarkRateLimitedThroughput. The figures are the server's counts
// (apiauthtest Stats): limited/op is 429 answers over all answers, and
// goodput/limit is 2xx answers over what the limit allows in the run
// (budgetLimit × run/budgetWindow).
const (
	budgetLimit   = 50
	budgetWindow  = time.Second
	budgetProcs   = 4
	budgetWorkers = 4 // per process
)

// budgetChild configures a load process.
type budgetChild struct {
	Shared  bool `json:"shared"` // Pace.Shared is a redisstore.Budget on the shared Redis
	Workers int  `json:"workers"`
}

// logLines turns each log record into a "FLEET log ..." event.
type logLines struct{ out *eventWriter }

func (l logLines) Write(p []byte) (int, error) {
	l.out.emit("log", oneLine(string(p)))
	return len(p), nil
}

// budgetProcess is the body of one load process. It builds its client,
// reports "ready", reads "go <start> <stop>" (Unix nanoseconds) from stdin,
// sends requests from start until stop, reports "done <2xx> <429> <other>",
// and exits when stdin closes.
func budgetProcess(cfg childConfig) int {
	out := &eventWriter{}
	opts := &apiauth.ClientOptions{
		Pace:   transport.PaceOptions{},
		Retry:  transport.RetryOptions{MaxAttempts: 1},
		Logger: slog.New(slog.NewTextHandler(logLines{out}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if cfg.Budget.Shared {
		client := redis.NewClient(&redis.Options{Addr: cfg.Redis, ContextTimeoutEnabled: true})
		defer client.Close()
		budget, err := redisstore.NewBudget(client, &redisstore.BudgetOptions{Prefix: cfg.Prefix})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		opts.Pace.Shared = budget
	}
	// The default identity of an API key is a hash of it, the same in
	// every process: the processes share one budget without an Identity.
	key, err := apiauth.ParseAPIKey(apiauthtest.AudiModalLiveKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	api, err := apiauth.NewClient(cfg.Fake, key, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	out.emit("ready")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 0 // stopped before the start
	}
	var start, stop int64
	if _, err := fmt.Sscanf(in.Text(), "go %d %d", &start, &stop); err != nil {
		fmt.Fprintln(os.Stderr, "bad start line:", err)
		return 2
	}
	time.Sleep(time.Until(time.Unix(0, start)))
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, stop))
	defer cancel()
	var ok, limited, other atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Budget.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := api.Get(ctx, "v1/health", nil)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, apiauth.ErrRateLimited):
					limited.Add(1)
				case ctx.Err() != nil:
					// The run ended during the request.
				default:
					if other.Add(1) <= 5 {
						out.emit("request-error", oneLine(err.Error()))
					}
				}
			}
		})
	}
	wg.Wait()
	out.emit("done", strconv.FormatInt(ok.Load(), 10), strconv.FormatInt(limited.Load(), 10), strconv.FormatInt(other.Load(), 10))
	for in.Scan() { // wait for the parent to close stdin
	}
	return 0
}

// budgetResult is what the fake counted during one fleet run.
type budgetResult struct {
	answers, served, refused int64
	run                      time.Duration
}

func (r budgetResult) limitedPerOp() float64 { return float64(r.refused) / float64(r.answers) }

func (r budgetResult) goodput() float64 {
	return float64(r.served) / (budgetLimit * float64(r.run) / float64(budgetWindow))
}

// runBudgetFleet starts the load processes against a new fake, lets them
// run for run (whole windows, from the start of one), and returns the
// fake's counts. redisAddr is used when
// shared is set.
func runBudgetFleet(tb testing.TB, redisAddr string, shared bool, run time.Duration) budgetResult {
	tb.Helper()
	fake := apiauthtest.Start(apiauthtest.Config{
		PlainHTTP:          true,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: budgetLimit, Window: budgetWindow},
	})
	defer fake.Close()
	f := startFleet(tb, budgetProcs, childConfig{
		Redis: redisAddr, Fake: fake.URL(apiauthtest.AudiModal), Prefix: testPrefix(tb),
		Budget: &budgetChild{Shared: shared, Workers: budgetWorkers},
	})
	eventually(tb, 30*time.Second, "every process ready", func() bool {
		f.checkAlive()
		return len(f.events("ready")) == budgetProcs
	})
	// Start at the beginning of a window of the fake (aligned on its clock,
	// which is ours), so that the run covers whole windows.
	start := time.Now().Add(100 * time.Millisecond).Truncate(budgetWindow).Add(budgetWindow)
	for _, p := range f.procs {
		fmt.Fprintf(p.stdin, "go %d %d\n", start.UnixNano(), start.Add(run).UnixNano())
	}
	// Sample the fake's counts at each window's end, for the log.
	var perWindow []string
	sampled, quit := make(chan struct{}), make(chan struct{})
	defer close(quit)
	go func() {
		defer close(sampled)
		var last apiauthtest.FamilyStats
		for end := start.Add(budgetWindow); !end.After(start.Add(run)); end = end.Add(budgetWindow) {
			select {
			case <-time.After(time.Until(end)):
			case <-quit:
				return
			}
			st := fake.Stats().AudiModal
			perWindow = append(perWindow, fmt.Sprintf("%d/%d", st.Requests-st.RateLimited-last.Requests+last.RateLimited, st.RateLimited-last.RateLimited))
			last = st
		}
	}()
	eventually(tb, run+30*time.Second, "every process done", func() bool {
		f.checkAlive()
		return len(f.events("done")) == budgetProcs
	})
	f.stopAll()
	<-sampled

	for _, e := range f.events("request-error") {
		tb.Errorf("process %d: request failed: %v", e.pid, e.args)
	}
	// Warnings about 429s are expected without a shared budget; one about
	// the budget itself (Redis unavailable) is not.
	for _, e := range f.events("log") {
		if strings.Contains(e.args[0], "shared_budget") {
			tb.Errorf("process %d logged %v", e.pid, e.args)
		}
	}
	var clientOK, client429 int64
	for _, e := range f.events("done") {
		n, _ := strconv.ParseInt(e.args[0], 10, 64)
		m, _ := strconv.ParseInt(e.args[1], 10, 64)
		clientOK, client429 = clientOK+n, client429+m
	}
	st := fake.Stats().AudiModal
	if st.Unauthorized+st.Forbidden+st.Faults != 0 {
		tb.Errorf("the fake answered 401/403/faults: %+v", st)
	}
	r := budgetResult{answers: st.Requests, served: st.Requests - st.RateLimited, refused: st.RateLimited, run: run}
	if r.answers == 0 {
		tb.Fatal("the fake answered nothing")
	}
	tb.Logf("shared=%v: the fake answered %d requests in %v: %d served, %d refused with 429 (the clients saw %d and %d; served/refused per window, sampled at its end: %s); limited/op %.4f, goodput/limit %.3f",
		shared, r.answers, run, r.served, r.refused, clientOK, client429, strings.Join(perWindow, " "), r.limitedPerOp(), r.goodput())
	return r
}

// Four processes share one Redis budget: together they stay inside the
// key's one limit (at most 1% of answers are 429) and still use at least
// 90% of it.
func TestFleetSharedRateBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four rate-limit windows (about 5 s)")
	}
	srv := redistest.Start(t)
	r := runBudgetFleet(t, srv.Addr, true, 4*budgetWindow)
	if r.limitedPerOp() > 0.01 || r.goodput() < 0.9 {
		t.Errorf("limited/op %.4f, goodput/limit %.3f; want at most 0.01 and at least 0.9", r.limitedPerOp(), r.goodput())
	}
}

// BenchmarkFleetThroughput runs the shared-budget fleet (four processes of
// four workers behind one key, 20 requests per one-second window, no
// retries) for six windows, once with each process pacing on its own
// (local) and once with a Budget on a shared Redis (redis). Metrics, from
// the fake's counts: limited/op, the share of answers that were 429;
// goodput/limit, 2xx answers over the 120 the limit allows; ns/op, the run
// time per answer. Each run lasts six windows whatever b.N is, so the
// framework runs it once; B/op and allocs/op are the parent's only.
func BenchmarkFleetThroughput(b *testing.B) {
	srv := redistest.Start(b)
	const run = 6 * budgetWindow
	for _, mode := range []struct {
		name   string
		shared bool
	}{{"local", false}, {"redis", true}} {
		b.Run(mode.name, func(b *testing.B) {
			r := runBudgetFleet(b, srv.Addr, mode.shared, run)
			b.ReportMetric(r.limitedPerOp(), "limited/op")
			b.ReportMetric(r.goodput(), "goodput/limit")
			b.ReportMetric(float64(run.Nanoseconds())/float64(r.answers), "ns/op")
		})
	}
}
