package transport

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"
)

// Defaults of the [Pace] fields, used when a field is zero.
const (
	// DefaultPaceMaxWait is the longest a request waits in Pace, in all,
	// before it gives up with a [*RateLimitError].
	DefaultPaceMaxWait = 60 * time.Second
	// DefaultPaceMaxKeys is how many host + credential states Pace keeps.
	DefaultPaceMaxKeys = 4096
	// DefaultPaceUtilization is the share of the server's rate that steady
	// pacing aims for, leaving room for clock and rounding differences.
	DefaultPaceUtilization = 0.97
)

// Bounds on what Pace learns from one answer, so that a nonsense reset or
// window (a reset in the year 9999, a server clock a day ahead, a
// RateLimit-Policy window of a billion seconds) cannot shut a key for hours
// or decades.
const (
	// PaceMaxReset caps a learned reset and window: a reset further than
	// this from the answer's arrival is taken to be this far away, and a
	// longer window (from RateLimit-Policy, or learned) is taken to be this
	// long.
	PaceMaxReset = 24 * time.Hour
	// PaceProbeInterval is the least refusal horizon: when a key has sent
	// nothing for max(MaxWait, PaceProbeInterval) and its state still holds
	// requests back,
	// the next request is let through as a probe, so that no local refusal
	// outlives that horizon without the server being asked again. The
	// probe's answer replaces what was learned. With an unlimited MaxWait
	// there is no probe: requests wait for the reset, which PaceMaxReset
	// bounds.
	PaceProbeInterval = time.Minute
)

// Limiter is a client-side rate limiter that [Pace] consults before every
// request. *rate.Limiter from golang.org/x/time/rate satisfies it. Wait blocks
// until the request may go, and must return promptly with an error when ctx
// is cancelled. Implementations must be safe for concurrent use.
type Limiter interface {
	Wait(ctx context.Context) error
}

// SharedBudget is a rate budget shared by many processes, such as the
// replicas of a service behind one API key. Implementations must be safe
// for concurrent use and must never see a secret: keys are a host and a
// credential identity.
type SharedBudget interface {
	// Reserve books one request against key's budget of rate requests per
	// window, evenly spaced, and returns how long the caller must wait
	// before sending it (zero or less: at once). The booking stands whether
	// or not the caller then sends. An error means the shared budget is
	// unavailable.
	Reserve(ctx context.Context, key string, rate float64, window time.Duration) (time.Duration, error)
}

// PaceOptions configures a [Pace] layer. It is a plain value: the zero
// value means every default documented on its fields, and one value may
// configure any number of layers (see [New]).
type PaceOptions struct {
	// MaxWait is the longest a request waits in Pace in all, whether for a
	// reset or for pacing, however many pauses it takes; a request that
	// would wait longer fails with a [*RateLimitError] as soon as that is
	// known. Zero means [DefaultPaceMaxWait] (60 s); a negative
	// value means no limit other than the request's context.
	MaxWait time.Duration

	// MaxKeys bounds the number of host + identity states kept; the least
	// recently used is dropped first. Zero or negative means
	// [DefaultPaceMaxKeys] (4096).
	MaxKeys int

	// Identity names the credential a request is sent with, so that two API
	// keys calling one host get separate budgets. Nil means
	// [DefaultIdentity]. The result is used as a map key, so it must not be
	// the secret itself.
	Identity func(*http.Request) string

	// Limiter, when set, is waited on before every request, in addition to
	// the server-driven pacing.
	Limiter Limiter

	// Utilization is the share of the advertised rate (Limit per window)
	// that steady pacing aims for; until the window is known it is also the
	// share of a window's quota Pace plans to spend before the reset. Zero,
	// or a value outside (0, 1], means [DefaultPaceUtilization] (0.97).
	Utilization float64

	// Shared, when set, spreads each budget across every process that uses
	// the same Shared store and key (fleet mode, for example Redis): once
	// the limit and window of a key are known, every request also books a
	// slot in the shared budget, at Utilization of the limit, and waits for
	// it. Nil means each process paces on its own. When Shared fails, Pace
	// logs it once and paces locally until it works again.
	Shared SharedBudget
	// Parse tunes how the limit headers are read; see [ParseOptions].
	Parse ParseOptions

	// OnRateLimit, when set, is called with the key's host (never the
	// credential) and every snapshot parsed from a response. It runs on the
	// request's goroutine after the state is updated and must not block.
	OnRateLimit func(host string, rl RateLimit)

	// OnWait, when set, is called before every pause Pace takes for a
	// request, with the planned pause (a pause that a new answer cuts short
	// may be followed by another call). It must not modify req.
	OnWait func(req *http.Request, d time.Duration)

	// Logger, when set, receives debug events for pauses and snapshots and
	// a warning when a request is refused. They name the host, never a
	// credential, path or query. Nil means no logging.
	Logger *slog.Logger
}

// Pace is an [http.RoundTripper] that keeps requests inside the rate limit a
// server advertises in its response headers (see [ParseRateLimit]), so that
// they are not answered with 429. It is the rate-limit layer of the apiauth
// stack, and works on its own over any Base.
//
// Pace keeps one state per request host and credential identity. From each
// answer it learns how many requests are left and when the window resets,
// and it counts the requests still in flight against what is left: with
// three requests left and sixteen goroutines calling, three go out before
// the reset. When nothing is left, a request waits until the reset, or fails
// at once with a [*RateLimitError] (without touching the network) if that is
// more than [Pace.MaxWait] away.
//
// Pace paces rather than bursts. It spreads what is left evenly over the
// time until the reset, and never goes faster than [Pace.Utilization] of
// Limit per window. It learns the window from a RateLimit-Policy w parameter
// or from how far the reset moves forward when a new window opens (until it
// knows, it assumes a window of at least a second), and the moment windows
// change from when the reset first moves. At each new window it checks whether the server counts
// the previous window's usage against the new one: a sliding-window limiter,
// whose budget comes back gradually rather than at the advertised reset.
// For such a server, a Remaining of 0 does not mean "wait for the reset":
// Pace then models the budget as refilling continuously at Limit per window
// and keeps its steady pace, backing off briefly if it is refused anyway.
//
// Pace also closes the loop on what the server does, not only on what it
// says. It compares each answer with the one before, net of the requests
// sent in between: a budget that keeps coming back between answers, though
// the reset says the window has not turned (a token bucket, a sliding log,
// a reset that never counts down), is taken to refill continuously, and
// the sliding model takes over. Under that model, unless RateLimit-Policy
// gives the window, Pace learns the refill rate itself: it raises the rate
// while the budget stays full at the planned pace, lowers it when the
// budget drains or on a 429, and bisects between the two (a GCRA server
// whose Limit is its burst, not its rate). A reset given in whole seconds
// is read as an estimate, up to a second early or late: when the budget
// came back at a known moment, the window's end follows from it, and an
// empty budget whose whole-second reset is already past is probed about
// one steady interval later rather than after a whole window.
//
// Until the first answer for a key arrives, and after a reset until an
// answer tells the new budget, Pace sends one request at a time (holding the
// others for at most a second) so that a burst of goroutines cannot overrun
// a budget it has not seen.
//
// What Pace learns is bounded: a reset or window further than
// [PaceMaxReset] (24 h) is clamped to it, and when a key has sent nothing for
// the refusal horizon, max(MaxWait, [PaceProbeInterval]) (1 min by default),
// one request goes out as a probe whatever the state says, however far its
// reset: a limit wrongly learned from one answer costs at most one horizon
// of refusals (each a [*RateLimitError] at once), then the server is asked
// again, and its answer replaces what was learned. The cost for an honest
// server that really is empty for longer is one probe per horizon. A
// request that waits rather than fails waits for the reset, capped, or
// until a probe's answer changes it; with an unlimited MaxWait there is no
// probe, and the cap alone bounds the wait.
//
// Pace never modifies the request, closes the request body when it returns
// early, and returns a nil error whenever it got a response, whatever its
// status. Every pause ends as soon as the request's context is done, with an
// error wrapping ctx.Err(); a pause that would outlast the context's
// deadline is not started: the request fails at once with a
// [*RateLimitError], as rate.Limiter.Wait does.
//
// The zero value is ready to use. A Pace is safe for concurrent use; its
// fields must not change after the first request. It must not be copied
// after first use.
type Pace struct {
	// Base sends the requests. Nil means one from [NewBase] (a clone of
	// http.DefaultTransport; the default itself is never modified).
	Base http.RoundTripper

	// PaceOptions holds the layer's settings; they must not change after
	// the first request.
	PaceOptions

	sharedDown atomic.Bool // a Shared failure was logged
	obs        *Observer   // set by New; nil when nothing is observed
	initOnce   sync.Once
	base       http.RoundTripper
	cfg        paceConfig

	mu   sync.Mutex
	keys map[paceKey]*list.Element // of *paceEntry
	lru  list.List                 // front is most recently used
}

// DefaultIdentity is the default [Pace.Identity]: the first 16 bytes, in hex,
// of the SHA-256 of the request's Authorization and X-Api-Key headers, or ""
// when both are empty. Each header is read under any spelling of its name
// (a key set by hand as req.Header["x-api-key"] counts), as the server
// would read it. Note that [Auth] sets these headers after Pace runs
// when it sits below Pace in the stack; the root package then passes an
// Identity that names the credential instead.
func DefaultIdentity(req *http.Request) string {
	a := headerGet(req.Header, "Authorization")
	k := headerGet(req.Header, "X-Api-Key")
	if a == "" && k == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(k))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// paceConfig holds the fields' effective values.
type paceConfig struct {
	maxWait time.Duration // negative: unlimited
	maxKeys int
	util    float64
}

// probeHorizon is the refusal horizon: max(maxWait, PaceProbeInterval); with
// no maximum wait, none (the reset, capped at PaceMaxReset, is trusted).
func (c *paceConfig) probeHorizon() time.Duration {
	if c.maxWait < 0 {
		return math.MaxInt64
	}
	return max(c.maxWait, PaceProbeInterval)
}

func (p *Pace) init() {
	p.initOnce.Do(func() {
		p.base = p.Base
		if p.base == nil {
			p.base = NewBase()
		}
		p.cfg = paceConfig{maxWait: p.MaxWait, maxKeys: p.MaxKeys, util: p.Utilization}
		if p.cfg.maxWait == 0 {
			p.cfg.maxWait = DefaultPaceMaxWait
		}
		if p.cfg.maxKeys <= 0 {
			p.cfg.maxKeys = DefaultPaceMaxKeys
		}
		if !(p.cfg.util > 0 && p.cfg.util <= 1) {
			p.cfg.util = DefaultPaceUtilization
		}
		p.keys = make(map[paceKey]*list.Element)
	})
}

// RoundTrip waits until the rate limit lets req go, sends it through Base
// and learns from the answer.
func (p *Pace) RoundTrip(req *http.Request) (*http.Response, error) {
	p.init()
	if req.URL == nil {
		paceCloseBody(req)
		return nil, errkind.New("apiauth: rate limit: request has no URL")
	}
	ctx := req.Context()
	if p.Limiter != nil {
		if err := p.Limiter.Wait(ctx); err != nil {
			paceCloseBody(req)
			return nil, errkind.Errorf("apiauth: client-side rate limit: %w", err)
		}
	}
	id := p.Identity
	if id == nil {
		id = DefaultIdentity
	}
	host := req.URL.Host
	e, tk, ok := p.fastAdmit(paceKey{host: host, id: id(req)})
	var err error
	if !ok {
		if tk, err = p.admit(ctx, req, e); err != nil {
			paceCloseBody(req)
			return nil, err
		}
	}
	var resp *http.Response
	defer func() { p.learn(ctx, e, tk, resp) }() // even if Base panics
	resp, err = p.base.RoundTrip(req)
	return resp, err
}

// paceKey identifies one budget: a host and a credential identity. A struct
// key, not a joined string, so that looking it up allocates nothing.
type paceKey struct{ host, id string }

// fastAdmit returns the state for key and, when nobody is queued for it,
// no shared budget is involved and the state lets a request go now, books
// one and reports true: the common case, in one critical section, with no
// channel operation and no timer. Otherwise the request must go through
// admit.
func (p *Pace) fastAdmit(key paceKey) (*paceEntry, paceTicket, bool) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entryLocked(key)
	if p.Shared != nil || len(e.turn) > 0 {
		return e, paceTicket{}, false
	}
	if d, refused := e.decide(now, &p.cfg); d > 0 || refused != nil {
		return e, paceTicket{}, false
	}
	return e, e.dispatch(now, &p.cfg), true
}

// entryLocked returns the state for key, creating it and evicting the least
// recently used one as needed. p.mu must be held.
func (p *Pace) entryLocked(key paceKey) *paceEntry {
	if el, ok := p.keys[key]; ok {
		p.lru.MoveToFront(el)
		return el.Value.(*paceEntry)
	}
	e := &paceEntry{host: key.host, key: key, turn: make(chan struct{}, 1)}
	p.keys[key] = p.lru.PushFront(e)
	for p.lru.Len() > p.cfg.maxKeys {
		old := p.lru.Back()
		p.lru.Remove(old)
		delete(p.keys, old.Value.(*paceEntry).key)
	}
	return e
}

// admit waits until e's state lets one more request go, and books it.
// Requests for one key are admitted one at a time, in arrival order.
func (p *Pace) admit(ctx context.Context, req *http.Request, e *paceEntry) (paceTicket, error) {
	began := time.Now() // MaxWait bounds the whole wait, not each pause
	select {
	case e.turn <- struct{}{}:
	case <-ctx.Done():
		return paceTicket{}, errkind.Errorf("apiauth: rate limit wait: %w", ctx.Err())
	}
	defer func() { <-e.turn }()

	var lastUntil time.Time
	booked := p.Shared == nil
	for {
		now := time.Now()
		p.mu.Lock()
		d, refused := e.decide(now, &p.cfg)
		if d <= 0 && !booked {
			// The local state lets it go: book the fleet-wide slot (once
			// something is known to share), then decide again after
			// waiting for it.
			booked = true
			if rate, window := e.sharedRate(now, p.cfg.util); window > 0 {
				p.mu.Unlock()
				if err := p.waitShared(ctx, e, rate, window, began); err != nil {
					return paceTicket{}, err
				}
				continue
			}
		}
		if d <= 0 {
			tk := e.dispatch(now, &p.cfg)
			p.mu.Unlock()
			return tk, nil
		}
		changed := e.waitChan()
		p.mu.Unlock()

		if refused == nil && p.cfg.maxWait >= 0 && now.Add(d).Sub(began) > p.cfg.maxWait {
			// Answers from requests in flight may move the reset out while
			// this one waits: the pauses must not add up past MaxWait.
			refused = &RateLimitError{Reset: now.Add(d), RetryAfter: d, MaxWait: p.cfg.maxWait}
		}
		if refused == nil {
			// Like rate.Limiter.Wait: a pause that would outlast the
			// caller's deadline fails now, typed, instead of sleeping
			// until the deadline to fail anyway.
			if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
				refused = &RateLimitError{Reset: now.Add(d), RetryAfter: d}
			}
		}
		if refused != nil {
			p.log(ctx, slog.LevelWarn, "apiauth: rate limit: request refused", e.host, d)
			return paceTicket{}, refused
		}
		// Report a pause once per planned end, not at every early wake-up.
		if until := now.Add(d); until.Sub(lastUntil).Abs() > time.Millisecond {
			lastUntil = until
			if p.OnWait != nil {
				p.OnWait(req, d)
			}
			p.obs.wait(ctx, "pace", d)
			p.log(ctx, slog.LevelDebug, "apiauth: rate limit: pause", e.host, d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-changed:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return paceTicket{}, errkind.Errorf("apiauth: rate limit wait: %w", ctx.Err())
		}
	}
}

// waitShared books a slot in the shared budget and waits for it. A failing
// budget is logged once and skipped; a wait past MaxWait is refused.
func (p *Pace) waitShared(ctx context.Context, e *paceEntry, rate float64, window time.Duration, began time.Time) error {
	d, err := p.Shared.Reserve(ctx, e.host+" "+e.key.id, rate, window)
	if err != nil {
		if ctx.Err() != nil {
			return errkind.Errorf("apiauth: rate limit wait: %w", ctx.Err())
		}
		if p.sharedDown.CompareAndSwap(false, true) {
			p.log(ctx, slog.LevelWarn, "apiauth: rate limit: shared budget unavailable, pacing locally: "+err.Error(), e.host, 0)
		}
		return nil
	}
	if p.sharedDown.CompareAndSwap(true, false) {
		p.log(ctx, slog.LevelInfo, "apiauth: rate limit: shared budget available again", e.host, 0)
	}
	if d <= 0 {
		return nil
	}
	if p.cfg.maxWait >= 0 && time.Now().Add(d).Sub(began) > p.cfg.maxWait {
		return &RateLimitError{Reset: time.Now().Add(d), RetryAfter: d, MaxWait: p.cfg.maxWait}
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return &RateLimitError{Reset: time.Now().Add(d), RetryAfter: d}
	}
	p.obs.wait(ctx, "shared_budget", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errkind.Errorf("apiauth: rate limit wait: %w", ctx.Err())
	}
}

// learn updates e from the answer to a request admitted with tk; ctx is
// the request's, for the log record.
func (p *Pace) learn(ctx context.Context, e *paceEntry, tk paceTicket, resp *http.Response) {
	now := time.Now()
	status := 0
	var rl RateLimit
	var format ResetFormat
	if resp != nil {
		status = resp.StatusCode
		rl, format = parseRateLimit(resp.Header, now, p.Parse)
	}
	p.mu.Lock()
	e.complete(now, tk, status, rl, format)
	e.clampNext(now, &p.cfg)
	p.mu.Unlock()
	if !rl.Present {
		return
	}
	if p.OnRateLimit != nil {
		p.OnRateLimit(e.host, rl)
	}
	if p.obs != nil && p.obs.RateLimit != nil {
		p.obs.RateLimit(ctx, e.host, e.key.id, rl)
	}
	if p.Logger != nil && p.Logger.Enabled(ctx, slog.LevelDebug) {
		p.Logger.LogAttrs(ctx, slog.LevelDebug, "apiauth: rate limit: snapshot",
			slog.String("host", e.host),
			slog.Int("status", status),
			slog.Int64("limit", rl.Limit),
			slog.Int64("remaining", rl.Remaining),
			slog.Time("reset", rl.Reset),
			slog.Duration("window", rl.Window))
	}
}

func (p *Pace) log(ctx context.Context, level slog.Level, msg, host string, d time.Duration) {
	if p.Logger == nil || !p.Logger.Enabled(ctx, level) {
		return
	}
	p.Logger.LogAttrs(ctx, level, msg, slog.String("host", host), slog.Duration("wait", d))
}

// paceCloseBody closes the body of a request that will not be sent.
func paceCloseBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
