package redisstore

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth/transport"
)

// DefaultProbeInterval is how often a [Budget] tries Redis again after a
// failed command, when BudgetOptions leaves ProbeInterval zero.
const DefaultProbeInterval = time.Second

// BudgetOptions configures a [Budget]. The zero value is ready to use: every
// zero field means the default documented on it. [NewBudget] copies the
// options.
type BudgetOptions struct {
	// Prefix starts every Redis key of the budget, for example
	// "myservice:apiauth:". Processes that share a rate limit must use the
	// same Prefix. It may be the Prefix of a [TokenStore]: the keys do not
	// collide. Empty means DefaultPrefix ("apiauth:").
	Prefix string
	// OpTimeout bounds each Redis command, so that a slow or unreachable
	// Redis turns into an error quickly and each process paces on its own
	// instead. Zero means DefaultOpTimeout (200 ms).
	OpTimeout time.Duration
	// ProbeInterval is how long Reserve fails at once, without a Redis
	// command, after a command failed: the requests of a process whose
	// Redis is down then pay OpTimeout at most once per ProbeInterval.
	// After it, one call tries Redis again. Zero means
	// DefaultProbeInterval (1 s).
	ProbeInterval time.Duration
}

// Budget is a rate budget shared by the processes of a fleet through Redis:
// a [transport.SharedBudget] for [transport.Pace].Shared. With it, N
// replicas behind one API key keep together to the one rate limit the
// server gives that key, instead of each spending it as if alone. Create it
// with [NewBudget]; Reserve on the zero value returns an error. It is safe
// for concurrent use, never logs, and never sees a secret.
//
// Each budget (a host and credential identity, as Pace names it) is one
// Redis key, "<prefix>{<sha256 of the name>}:budget", holding the
// theoretical arrival time of a generic cell rate algorithm (GCRA), with a
// TTL of one window past it. A reservation is one Lua script that reads
// Redis' own clock (TIME), so the processes' clocks do not matter, and
// books the next slot atomically.
//
// Every Redis command is bounded by OpTimeout. After a failure Reserve
// fails at once for ProbeInterval, then tries Redis again; meanwhile Pace
// paces each process on its own.
type Budget struct {
	client redis.UniversalClient
	opts   BudgetOptions
	ks     keyspace

	// Circuit: while down, Reserve fails at once until nextProbe (Unix
	// nanoseconds); the call that moves nextProbe on tries Redis.
	down      atomic.Bool
	nextProbe atomic.Int64
	mu        sync.Mutex
	lastErr   error // the failure that opened the circuit
}

// NewBudget returns a shared rate budget on client. opts may be nil. The
// client must be a go-redis client with ContextTimeoutEnabled set, so that
// OpTimeout bounds each command (NewBudget checks *redis.Client,
// *redis.ClusterClient and *redis.Ring); it stays the caller's. It returns
// an error for invalid options.
func NewBudget(client redis.UniversalClient, opts *BudgetOptions) (*Budget, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	var o BudgetOptions
	if opts != nil {
		o = *opts
	}
	if o.OpTimeout < 0 || o.ProbeInterval < 0 {
		return nil, errkind.Errorf("apiauth: redisstore: negative OpTimeout %v or ProbeInterval %v", o.OpTimeout, o.ProbeInterval)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	return &Budget{client: client, opts: o, ks: keyspace{prefix: o.Prefix}}, nil
}

// reserveScript books one slot of a GCRA: KEYS[1] the budget, ARGV[1] the
// emission interval (window / rate) in microseconds, ARGV[2] the window in
// milliseconds. The key holds the theoretical arrival time (TAT) in
// microseconds of Redis' clock; the slot is at max(TAT, now) and the next
// one an interval later. It returns the wait in microseconds. Numbers are
// written with %.0f: Lua's default conversion keeps 14 digits only.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
	tat = now
end
local nxt = tat + tonumber(ARGV[1])
local ttl = math.ceil((nxt - now) / 1000) + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', string.format('%.0f', ttl))
return tat - now`)

// Reserve books one request against key's budget of rate requests per
// window, spaced window/rate apart across every process sharing the Redis
// and Prefix, and returns how long the caller must wait before sending it
// (zero: at once). The booking stands whether or not the caller sends.
// key names the budget (Pace passes the host and credential identity); it
// is hashed, never stored. An error means the budget is unavailable: Redis
// failed within OpTimeout, or failed less than ProbeInterval ago.
func (b *Budget) Reserve(ctx context.Context, key string, rate float64, window time.Duration) (time.Duration, error) {
	if b.client == nil {
		return 0, errkind.New("apiauth: redisstore: Budget not made by NewBudget")
	}
	if !(rate > 0) || math.IsInf(rate, 1) || window <= 0 {
		return 0, errkind.Errorf("apiauth: redisstore: invalid rate budget of %v per %v", rate, window)
	}
	if err := b.allow(); err != nil {
		return 0, err
	}
	interval := float64(window) / rate / float64(time.Microsecond)
	// The window in whole milliseconds, rounded up: a count, not a Duration.
	windowMillis := max(1, int64((window+time.Millisecond-1)/time.Millisecond))
	rk := b.ks.key(b.ks.id(key), "budget")
	octx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
	defer cancel()
	wait, err := reserveScript.Run(octx, b.client, []string{rk},
		strconv.FormatFloat(interval, 'f', 3, 64), windowMillis).Int64()
	if err != nil {
		if ctx.Err() == nil { // Redis failed, not the caller
			b.fail(err)
		}
		return 0, errkind.Errorf("apiauth: redisstore: reserving a rate budget slot: %w", err)
	}
	b.down.Store(false)
	return time.Duration(wait) * time.Microsecond, nil
}

// allow returns an error while the circuit is open, except to the one call
// that probes Redis once ProbeInterval has passed.
func (b *Budget) allow() error {
	if !b.down.Load() {
		return nil
	}
	now := time.Now().UnixNano()
	next := b.nextProbe.Load()
	if now >= next && b.nextProbe.CompareAndSwap(next, now+int64(b.opts.ProbeInterval)) {
		return nil
	}
	b.mu.Lock()
	err := b.lastErr
	b.mu.Unlock()
	return errkind.Errorf("apiauth: redisstore: rate budget unavailable, Redis failed less than %v ago: %w", b.opts.ProbeInterval, err)
}

// fail opens the circuit after err.
func (b *Budget) fail(err error) {
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
	b.nextProbe.Store(time.Now().Add(b.opts.ProbeInterval).UnixNano())
	b.down.Store(true)
}

var _ transport.SharedBudget = (*Budget)(nil)
