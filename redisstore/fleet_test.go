package redisstore_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

// The fleet tests run real OS processes: the test binary re-executed in
// TestHelperProcess, selected by childEnv, which carries a childConfig as
// JSON. Each process builds what a replica of a service would: a go-redis
// client, a TokenStore, an AudiModal LoginSource and a TokenCache, then
// calls Token in a loop until its stdin closes. It reports on stdout, one
// "FLEET <kind> <args...>" line per event; tokens appear only as
// fingerprints.
const childEnv = "APIAUTH_REDISSTORE_FLEET_CHILD"

type childConfig struct {
	Redis          string        `json:"redis"`
	Fake           string        `json:"fake"` // AudiModal base URL, plain http on loopback
	Prefix         string        `json:"prefix"`
	Lease          time.Duration `json:"lease"`
	RefreshTimeout time.Duration `json:"refresh_timeout"`
	// Budget, when set, makes the process a load generator for the shared
	// rate budget tests instead (see budgetProcess).
	Budget *budgetChild `json:"budget,omitempty"`
}

// TestHelperProcess is the body of one fleet process; run directly, it
// skips.
func TestHelperProcess(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("the body of a fleet process, started by the TestFleet tests")
	}
	os.Exit(fleetProcess(raw))
}

// eventWriter prints events to stdout, one line each.
type eventWriter struct{ mu sync.Mutex }

func (w *eventWriter) emit(kind string, args ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintln(os.Stdout, "FLEET", kind, strings.Join(args, " "))
}

// fingerprint names a token without revealing it.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:6])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), "_") }

// reportingStore reports when this process holds the refresh lock, and
// lock failures other than those of its own shutdown.
type reportingStore struct {
	*redisstore.TokenStore
	out      *eventWriter
	stopping context.Context
}

func (r reportingStore) LockToken(ctx context.Context, key string) (func(), error) {
	unlock, err := r.TokenStore.LockToken(ctx, key)
	if err != nil {
		if r.stopping.Err() == nil {
			r.out.emit("lock-error", oneLine(err.Error()))
		}
		return nil, err
	}
	r.out.emit("locked")
	return unlock, nil
}

func fleetProcess(raw string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bad config:", err)
		return 2
	}
	if cfg.Budget != nil {
		return budgetProcess(cfg)
	}
	out := &eventWriter{}
	client := redis.NewClient(&redis.Options{Addr: cfg.Redis, ContextTimeoutEnabled: true})
	defer client.Close()
	store, err := redisstore.NewTokenStore(client, &redisstore.TokenOptions{Prefix: cfg.Prefix, Lease: cfg.Lease})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer store.Close()
	// AllowInsecure stays false: plain http is accepted for loopback only.
	src, err := apiauth.NewLoginSource(cfg.Fake,
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID},
		&apiauth.SourceOptions{AllowInsecure: false})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	cache := apiauth.NewTokenCache(src, &apiauth.CacheOptions{
		Store:          reportingStore{store, out, ctx},
		StoreKey:       storeKey,
		RefreshTimeout: cfg.RefreshTimeout,
		OnToken:        func(tok *apiauth.Token) { out.emit("token", fingerprint(tok.AccessToken)) },
		OnRefreshError: func(err error, _ time.Time) {
			if ctx.Err() == nil {
				out.emit("refresh-error", oneLine(err.Error()))
			}
		},
	})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
		stop()
	}()
	calls, failures := 0, 0
	for ctx.Err() == nil {
		if _, err := cache.Token(ctx); err == nil {
			calls++
		} else if ctx.Err() == nil {
			failures++
			out.emit("token-error", oneLine(err.Error()))
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
	cache.Close()
	out.emit("done", strconv.Itoa(calls), strconv.Itoa(failures))
	return 0
}

// event is one line reported by a fleet process.
type event struct {
	pid  int
	kind string
	args []string
	at   time.Time // when the parent read it
}

type fleetProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	exited chan struct{}
	ended  bool // stopped or killed by the test
}

// fleet is a set of running fleet processes and what they reported.
type fleet struct {
	t     testing.TB
	mu    sync.Mutex
	log   []event
	procs map[int]*fleetProc
	pids  []int
}

func startFleet(t testing.TB, n int, cfg childConfig) *fleet {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, procs: map[int]*fleetProc{}}
	t.Cleanup(func() {
		for _, p := range f.procs {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		p := &fleetProc{cmd: cmd, stdin: stdin, stderr: &syncBuffer{}, exited: make(chan struct{})}
		cmd.Stderr = p.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		f.procs[pid] = p
		f.pids = append(f.pids, pid)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) < 2 || fields[0] != "FLEET" {
					continue
				}
				f.mu.Lock()
				f.log = append(f.log, event{pid: pid, kind: fields[1], args: fields[2:], at: time.Now()})
				f.mu.Unlock()
			}
			_ = cmd.Wait()
			close(p.exited)
		}()
	}
	return f
}

// events returns the events of the given kind, in the order read.
func (f *fleet) events(kind string) []event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event
	for _, e := range f.log {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// checkAlive fails the test if a process ended without being told to.
func (f *fleet) checkAlive() {
	f.t.Helper()
	for pid, p := range f.procs {
		select {
		case <-p.exited:
			if !p.ended {
				f.t.Fatalf("fleet process %d exited: %v\n%s", pid, p.cmd.ProcessState, p.stderr.String())
			}
		default:
		}
	}
}

// kill ends a process abruptly, as a crash would (SIGKILL).
func (f *fleet) kill(pid int) {
	p := f.procs[pid]
	p.ended = true
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stopAll asks the running processes to stop and waits for them.
func (f *fleet) stopAll() {
	f.t.Helper()
	for _, p := range f.procs {
		if !p.ended {
			p.ended = true
			p.stdin.Close()
		}
	}
	for pid, p := range f.procs {
		select {
		case <-p.exited:
			if !p.cmd.ProcessState.Success() && p.cmd.ProcessState.String() != "signal: killed" {
				f.t.Errorf("fleet process %d: %v\n%s", pid, p.cmd.ProcessState, p.stderr.String())
			}
		case <-time.After(15 * time.Second):
			f.t.Fatalf("fleet process %d did not stop", pid)
		}
	}
}

// tokensOf returns the distinct token fingerprints each process adopted.
func (f *fleet) tokensOf() map[int]map[string]bool {
	out := map[int]map[string]bool{}
	for _, pid := range f.pids {
		out[pid] = map[string]bool{}
	}
	for _, e := range f.events("token") {
		out[e.pid][e.args[0]] = true
	}
	return out
}

// noErrors fails the test for any error a surviving process reported.
func (f *fleet) noErrors(except int) {
	f.t.Helper()
	for _, kind := range []string{"lock-error", "token-error", "refresh-error"} {
		for _, e := range f.events(kind) {
			if e.pid != except {
				f.t.Errorf("process %d reported %s %v", e.pid, kind, e.args)
			}
		}
	}
	for _, e := range f.events("done") {
		if e.args[1] != "0" {
			f.t.Errorf("process %d: %s failed Token calls", e.pid, e.args[1])
		}
	}
}

// Four processes share one Redis and one AudiModal login whose tokens live
// 2 s (each is renewed 0.5 s before it expires). Across five expiries they
// make one login and one refresh per expiry between them, and no refresh
// token is ever presented twice.
func TestFleetOneLoginOneRefreshPerExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five token lifetimes (about 9 s)")
	}
	srv := redistest.Start(t)
	fake := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, AudiModalTokenTTL: 2 * time.Second})
	t.Cleanup(fake.Close)
	f := startFleet(t, 4, childConfig{Redis: srv.Addr, Fake: fake.URL(apiauthtest.AudiModal), Prefix: testPrefix(t)})

	const expiries = 5
	union := func() map[string]bool {
		u := map[string]bool{}
		for _, toks := range f.tokensOf() {
			for fp := range toks {
				u[fp] = true
			}
		}
		return u
	}
	eventually(t, 45*time.Second, "five refreshes, each token adopted", func() bool {
		f.checkAlive()
		st := fake.Stats().AudiModal
		return st.Refreshes >= expiries && int64(len(union())) == st.TokensIssued
	})
	f.stopAll()

	st := fake.Stats().AudiModal
	if st.Logins != 1 || st.RefreshRejections != 0 {
		t.Errorf("logins = %d, rejected refresh tokens = %d; want 1 and 0", st.Logins, st.RefreshRejections)
	}
	// The processes are stopped as soon as the fifth refresh is seen; a
	// sixth can only have happened if stopping them took longer than the
	// 1.5 s a token stays fresh (a stalled, overloaded machine), so 6 is
	// accepted too. Duplicate refreshes cannot hide in that margin: they
	// would show as rejected refresh tokens (each is single-use), as extra
	// logins, or as issued tokens no process adopted.
	if st.Refreshes < expiries || st.Refreshes > expiries+1 {
		t.Errorf("refreshes = %d, want %d (one per expiry)", st.Refreshes, expiries)
	}
	u := union()
	if st.TokensIssued != st.Logins+st.Refreshes || int64(len(u)) != st.TokensIssued {
		t.Errorf("tokens issued = %d, adopted = %d, logins + refreshes = %d; want all equal",
			st.TokensIssued, len(u), st.Logins+st.Refreshes)
	}
	for pid, toks := range f.tokensOf() {
		if len(toks) < expiries {
			t.Errorf("process %d adopted %d tokens, want at least %d (it must follow the fleet's chain)", pid, len(toks), expiries)
		}
	}
	f.noErrors(0)
	locks := map[int]int{}
	for _, e := range f.events("locked") {
		locks[e.pid]++
	}
	for _, e := range f.events("done") {
		t.Logf("process %d: %s Token calls, %d tokens adopted, lock taken %d times", e.pid, e.args[0], len(f.tokensOf()[e.pid]), locks[e.pid])
	}
}

// The process holding the refresh lock dies (SIGKILL) while its login
// hangs: another process takes the lock once the lease runs out, logs in,
// and the others adopt its token. One login in all.
func TestFleetLockHolderKilledMidRefresh(t *testing.T) {
	srv := redistest.Start(t)
	fake := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	t.Cleanup(fake.Close)
	fake.FailTokenRequests(1, apiauthtest.Fault{Hang: true}) // the first login hangs
	const lease = time.Second
	f := startFleet(t, 4, childConfig{
		Redis: srv.Addr, Fake: fake.URL(apiauthtest.AudiModal), Prefix: testPrefix(t),
		Lease: lease, RefreshTimeout: 10 * time.Second,
	})

	var holder event
	eventually(t, 30*time.Second, "a process holds the lock, its login hanging", func() bool {
		f.checkAlive()
		locked := f.events("locked")
		if len(locked) == 0 || fake.Stats().AudiModal.Faults < 1 {
			return false
		}
		holder = locked[0]
		return true
	})
	f.kill(holder.pid)
	killedAt := time.Now()

	var takeover event
	eventually(t, 10*time.Second, "another process takes the lock", func() bool {
		f.checkAlive()
		for _, e := range f.events("locked") {
			if e.pid != holder.pid {
				takeover = e
				return true
			}
		}
		return false
	})
	eventually(t, 10*time.Second, "every survivor has a token", func() bool {
		f.checkAlive()
		for pid, toks := range f.tokensOf() {
			if pid != holder.pid && len(toks) == 0 {
				return false
			}
		}
		return true
	})
	f.stopAll()

	after := takeover.at.Sub(killedAt)
	t.Logf("lock taken over %v after the holder was killed (lease %v)", after.Round(time.Millisecond), lease)
	// The lease was renewed at most lease/3 before the kill, so it ends at
	// most one lease after it; a second of slack covers process scheduling
	// on a loaded machine (the survivors' 10 s refresh timeout is far off).
	if after > lease+time.Second {
		t.Errorf("takeover took %v, want within the %v lease", after, lease)
	}
	st := fake.Stats().AudiModal
	if st.Logins != 1 || st.Faults != 1 || st.RefreshRejections != 0 {
		t.Errorf("logins = %d, faults = %d, rejected refresh tokens = %d; want 1, 1, 0", st.Logins, st.Faults, st.RefreshRejections)
	}
	seen := map[string]bool{}
	for pid, toks := range f.tokensOf() {
		if pid == holder.pid && len(toks) != 0 {
			t.Errorf("the killed holder adopted a token")
		}
		for fp := range toks {
			seen[fp] = true
		}
	}
	if len(seen) != 1 {
		t.Errorf("the survivors adopted %d different tokens, want the same one", len(seen))
	}
	f.noErrors(holder.pid)
}
