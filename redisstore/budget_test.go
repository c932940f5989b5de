package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
	"github.com/apiauth/apiauth/transport"
)

// newBudget returns a budget with its own client on srv (as another
// process would have), closed in t.Cleanup. A zero opts.Prefix becomes one
// unique to the test; a zero OpTimeout becomes 5 s, so that a loaded
// machine does not fail tests that are not about timeouts.
func newBudget(t *testing.T, srv *redistest.Server, opts redisstore.BudgetOptions) *redisstore.Budget {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	if opts.OpTimeout == 0 {
		opts.OpTimeout = 5 * time.Second
	}
	b, err := redisstore.NewBudget(redistest.NewClient(t, srv), &opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// N reservations at rate r per window, one after another, are spaced
// window/r apart on Redis' clock: the k-th waits k*window/r less the time
// since the first. Another key has its own budget.
func TestBudgetSpacing(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	b := newBudget(t, srv, redisstore.BudgetOptions{})
	const rate, window = 3, time.Second // an interval of 333333.33 µs
	interval := window / rate
	var first0, first1 time.Time // before and after the first call
	for k := range 6 {
		before := time.Now()
		wait, err := b.Reserve(bg, "api.example.com key:1", rate, window)
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			first0, first1 = before, after
		}
		// Redis read its clock between before and after; the first call
		// read it between first0 and first1.
		due := time.Duration(k) * interval
		lo := due - after.Sub(first0) - time.Millisecond
		hi := due - before.Sub(first1) + time.Millisecond
		if wait < lo || wait > hi {
			t.Errorf("reservation %d: wait %v, want %v less the time since the first (in [%v, %v])", k, wait, due, lo, hi)
		}
	}
	if wait, err := b.Reserve(bg, "api.example.com key:2", rate, window); err != nil || wait != 0 {
		t.Errorf("first reservation of another key: wait %v, %v; want 0", wait, err)
	}
}

// Reservations from several processes at once each get their own slot:
// with an interval of 1000 s, twenty concurrent reservations wait 0, 1000 s,
// ..., 19000 s. The key is hashed and expires one window after the last
// slot.
func TestBudgetConcurrentSlotsKeyAndTTL(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	prefix := testPrefix(t)
	odd := "api.example.com tenant a/b {x}*?[\n\x00ü:" + strings.Repeat("z", 300)
	const window = 1000 * time.Second
	var (
		mu    sync.Mutex
		waits []time.Duration
		wg    sync.WaitGroup
	)
	for range 4 {
		b := newBudget(t, srv, redisstore.BudgetOptions{Prefix: prefix})
		for range 5 {
			wg.Go(func() {
				w, err := b.Reserve(bg, odd, 1, window)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				waits = append(waits, w)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	slices.Sort(waits)
	if len(waits) != 20 {
		t.Fatalf("%d reservations succeeded, want 20", len(waits))
	}
	for k, w := range waits {
		if due := time.Duration(k) * window; w > due || w < due-time.Second {
			t.Errorf("slot %d: wait %v, want just under %v", k, w, due)
		}
	}

	keys, err := raw.Keys(bg, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := redisKey(prefix, odd, "budget")
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("Redis keys = %q, want only %q", keys, want)
	}
	val, err := raw.Get(bg, want).Result()
	if err != nil || !regexp.MustCompile(`^[0-9]+$`).MatchString(val) {
		t.Errorf("budget value %q (%v), want a number of microseconds", val, err)
	}
	// The next slot is 20 windows away; the key lives one window longer.
	ttl, err := raw.PTTL(bg, want).Result()
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := 21*window-5*time.Second, 21*window; ttl < lo || ttl > hi {
		t.Errorf("PTTL = %v, want in [%v, %v]", ttl, lo, hi)
	}
}

func TestNewBudgetValidates(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer ok.Close()
	unbounded := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer unbounded.Close()
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   *redisstore.BudgetOptions
	}{
		{"nil client", nil, nil},
		{"no ContextTimeoutEnabled", unbounded, nil},
		{"negative OpTimeout", ok, &redisstore.BudgetOptions{OpTimeout: -1}},
		{"negative ProbeInterval", ok, &redisstore.BudgetOptions{ProbeInterval: -1}},
	} {
		if _, err := redisstore.NewBudget(tc.client, tc.opts); err == nil {
			t.Errorf("%s: NewBudget succeeded", tc.name)
		}
	}
	b, err := redisstore.NewBudget(ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)
	for _, tc := range []struct {
		rate   float64
		window time.Duration
	}{{0, time.Second}, {-1, time.Second}, {math.NaN(), time.Second}, {math.Inf(1), time.Second}, {10, 0}, {10, -time.Second}} {
		if _, err := b.Reserve(ctx, "k", tc.rate, tc.window); err == nil || !strings.Contains(err.Error(), "invalid rate budget") {
			t.Errorf("Reserve(%v per %v) = %v, want an invalid-budget error", tc.rate, tc.window, err)
		}
	}
	var zero redisstore.Budget
	if _, err := zero.Reserve(ctx, "k", 1, time.Second); err == nil {
		t.Error("Reserve on a zero Budget succeeded")
	}
}

// With Redis killed, Reserve fails within OpTimeout, then at once (without
// trying Redis) until ProbeInterval has passed; once Redis is back, the
// next probe succeeds and the budget works again. A paused Redis fails
// within OpTimeout too, although the client's own timeouts are a minute.
func TestBudgetRedisDown(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	const opTimeout = 300 * time.Millisecond
	b := newBudget(t, srv, redisstore.BudgetOptions{OpTimeout: opTimeout, ProbeInterval: 300 * time.Millisecond})
	if _, err := b.Reserve(bg, "k", 10, time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	bounded(t, 2*time.Second, "Reserve with Redis down", func() {
		began := time.Now()
		_, err := b.Reserve(bg, "k", 10, time.Second)
		t.Logf("Reserve with Redis down failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
		if err == nil || !strings.HasPrefix(err.Error(), "apiauth: redisstore: ") {
			t.Errorf("Reserve with Redis down = %v, want an apiauth: redisstore error", err)
		}
	})
	_, err := b.Reserve(bg, "k", 10, time.Second)
	if err == nil || !strings.Contains(err.Error(), "Redis failed less than 300ms ago") {
		t.Errorf("Reserve just after a failure = %v, want the circuit's error", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Reserve works after Redis restarts", func() bool {
		_, err := b.Reserve(bg, "k", 10, time.Second)
		return err == nil
	})

	opts := redistest.ClientOptions(srv)
	opts.ReadTimeout, opts.WriteTimeout, opts.DialTimeout = time.Minute, time.Minute, time.Minute
	client := redis.NewClient(opts)
	defer client.Close()
	paused, err := redisstore.NewBudget(client, &redisstore.BudgetOptions{Prefix: testPrefix(t), OpTimeout: opTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Skip(err)
	}
	defer srv.Resume()
	bounded(t, 2*time.Second, "Reserve with Redis paused", func() {
		if _, err := paused.Reserve(bg, "k", 10, time.Second); err == nil {
			t.Error("Reserve succeeded with Redis paused")
		}
	})
}

// A caller whose context ends does not open the circuit: Redis did not
// fail.
func TestBudgetCallerCancelDoesNotOpenCircuit(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	b := newBudget(t, srv, redisstore.BudgetOptions{ProbeInterval: time.Hour})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := b.Reserve(ctx, "k", 10, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Reserve with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := b.Reserve(bg, "k", 10, time.Second); err != nil {
		t.Errorf("Reserve after a cancelled call = %v, want success", err)
	}
}

// Through a Client's Pace: every request succeeds while Redis is down
// (each process paces on its own), the outage is logged once at warn level
// and the recovery once; requests book slots in Redis before and after.
func TestPaceWithBudgetSurvivesRedisOutage(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	fake := apiauthtest.Start(apiauthtest.Config{
		PlainHTTP:          true,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: 1 << 20, Window: time.Second}, // pacing without waits
	})
	defer fake.Close()
	prefix := testPrefix(t)
	budget := newBudget(t, srv, redisstore.BudgetOptions{Prefix: prefix, OpTimeout: 300 * time.Millisecond, ProbeInterval: 100 * time.Millisecond})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	key, err := apiauth.ParseAPIKey(apiauthtest.AudiModalLiveKey)
	if err != nil {
		t.Fatal(err)
	}
	api, err := apiauth.NewClient(fake.URL(apiauthtest.AudiModal), key, &apiauth.ClientOptions{
		Pace:     transport.PaceOptions{Shared: budget},
		Identity: "billing-audimodal",
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		if _, err := api.Get(ctx, "v1/health", nil); err != nil {
			t.Fatalf("GET /v1/health: %v", err)
		}
	}
	budgetKeys := func() []string {
		keys, _ := raw.Keys(bg, prefix+"*").Result()
		return keys
	}
	for range 5 {
		get()
	}
	keyRe := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\{[0-9a-f]{64}\}:budget$`)
	if keys := budgetKeys(); len(keys) != 1 || !keyRe.MatchString(keys[0]) {
		t.Fatalf("budget keys = %q, want one hashed key", keys)
	}

	srv.Kill()
	for range 10 {
		get()
		time.Sleep(30 * time.Millisecond) // across a few probe intervals
	}
	if n := logs.count("shared budget unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"apiauth: rate limit: shared budget unavailable") {
		t.Errorf("outage not logged at warn level:\n%s", logs.String())
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "budget used again after Redis restarts", func() bool {
		get()
		return len(budgetKeys()) == 1 && logs.count("shared budget available again") > 0
	})
	for range 5 {
		get()
	}
	if n := logs.count("shared budget available again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, logs.String())
	}
	if n := logs.count("shared budget unavailable"); n != 1 {
		t.Errorf("outage logged %d times in all, want once", n)
	}
	if l := logs.String(); strings.Contains(l, apiauthtest.AudiModalLiveKey) {
		t.Error("the API key appears in the logs")
	}
	if st := fake.Stats().AudiModal; st.RateLimited != 0 {
		t.Errorf("%d requests were refused with 429", st.RateLimited)
	}
}
