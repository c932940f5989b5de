package apiauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/apiauth/apiauth/internal/jwtclaims"
	"github.com/apiauth/apiauth/transport"
)

// Defaults of [CacheOptions]. A test checks that the README's table of
// defaults matches them.
const (
	// DefaultRefreshAhead is the longest refresh-ahead window: a token is
	// refreshed in the background from the smaller of this and a quarter of
	// its lifetime before it expires.
	DefaultRefreshAhead = 5 * time.Minute
	// DefaultExpiryMargin is the longest expiry margin: inside it (scaled
	// down to a tenth of the lifetime for short-lived tokens) a token is no
	// longer handed out and callers wait for a fresh one.
	DefaultExpiryMargin = 10 * time.Second
	// DefaultLifetime applies to tokens whose expiry is unknown.
	DefaultLifetime = 10 * time.Minute
	// DefaultRefreshTimeout bounds one refresh.
	DefaultRefreshTimeout = 30 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the jittered, doubling
	// wait between failed refreshes.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// CacheOptions configures a [TokenCache]. The zero value is ready to use:
// every zero field means the default documented on it.
type CacheOptions struct {
	// RefreshAhead is the longest time before expiry at which a background
	// refresh starts; the window is the smaller of RefreshAhead and a quarter
	// of the token's lifetime. Zero means DefaultRefreshAhead (5 min).
	RefreshAhead time.Duration
	// ExpiryMargin is the longest time before expiry from which a token is
	// no longer served; the margin is the smaller of ExpiryMargin and a tenth
	// of the token's lifetime. Zero means DefaultExpiryMargin (10 s).
	ExpiryMargin time.Duration
	// DefaultLifetime is the lifetime assumed for a token whose expiry is
	// unknown (no Expiry, no JWT exp claim). Zero means DefaultLifetime
	// (10 min).
	DefaultLifetime time.Duration
	// RefreshTimeout bounds each refresh, independently of any caller's
	// context: a refresh carries the values of the context of the call
	// that started it (trace ids, log correlation), but neither its
	// deadline nor its cancellation, as other callers share it; Close
	// cancels it. With a [TokenLocker] store, the wait for the lock takes half
	// of it at most: a cache that gets no lock in that time refreshes
	// without it in the other half. Zero means DefaultRefreshTimeout (30 s).
	RefreshTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed refresh: it
	// starts at MinBackoff, doubles with each failure up to MaxBackoff, and is
	// jittered between half and all of that. Zero means DefaultMinBackoff
	// (1 s) and DefaultMaxBackoff (30 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxTokenSize caps the size of a JWT whose claims are read. Zero means
	// 16 KiB.
	MaxTokenSize int
	// Store shares the cache's token beyond this cache (see [TokenStore]).
	// Nil means none: the token lives in this cache only.
	Store TokenStore
	// StoreKey names this cache's entry in Store. It must identify the
	// credential without containing any secret. Empty means "default".
	StoreKey string
	// OnToken, if set, is called with every new token the cache adopts, for
	// example to persist a rotated refresh token. It runs on the refreshing
	// goroutine after waiting callers have been released; it must not block
	// for long and must not call the cache's Close.
	OnToken func(*Token)
	// OnRefreshError, if set, is called with every failed refresh and the
	// time of the next attempt.
	OnRefreshError func(err error, next time.Time)
	// OnRefreshStart and OnRefreshEnd, if set, bracket every refresh, for
	// tracing and metrics (github.com/apiauth/apiauth/otel/apiauthotel
	// sets them). OnRefreshStart runs on the refreshing goroutine with the
	// refresh's context, which carries the values of the context of the
	// call that caused the refresh (its trace span, for a link) but not
	// its cancellation; the context it returns (ctx or one derived from
	// it) is the one the refresh runs on, so the token source's requests
	// see it. OnRefreshEnd gets that context and the outcome: nil when a
	// token was adopted, or when the source handed back the still-valid
	// token the cache had (see [ErrTokenUnchanged]); else the error
	// OnRefreshError gets, or one matching [ErrClosed] when the cache was
	// closed meanwhile. Neither sees a token.
	OnRefreshStart func(ctx context.Context) context.Context
	OnRefreshEnd   func(ctx context.Context, err error)
	// Logger receives refresh events at debug level and failures at warn
	// level, with tokens redacted, on the refresh's context: a handler that
	// reads a trace id from the context sees the one of the call that
	// started the refresh. Nil means no logging.
	Logger *slog.Logger
}

// TokenStore shares cached tokens between caches, for example between the
// processes of a fleet. A [TokenCache] consults it before each refresh (a
// token another cache stored may make the refresh unnecessary) and saves
// every token it fetches. The cache's hot path never touches the store.
// Implementations must be safe for concurrent use and must never log tokens.
type TokenStore interface {
	// LoadToken returns the token stored under key, or nil and no error if
	// there is none.
	LoadToken(ctx context.Context, key string) (*Token, error)
	// StoreToken saves tok under key, replacing any previous token.
	StoreToken(ctx context.Context, key string, tok *Token) error
}

// TokenLocker is implemented by a [TokenStore] that can serialize refreshes
// between caches, for example with a lock in Redis. LockToken waits while
// another holder has the lock for key, until ctx ends; the lock must expire
// by itself (a lease) if its holder dies. The returned function releases it.
// A [TokenCache] cancels ctx after half of its RefreshTimeout if the lock is
// not taken by then (and refreshes without it), and otherwise keeps ctx
// alive until it calls the returned function.
type TokenLocker interface {
	LockToken(ctx context.Context, key string) (unlock func(), err error)
}

// MemoryStore is an in-process [TokenStore] and [TokenLocker]: caches
// sharing one MemoryStore and key share their tokens and make one refresh
// between them. The zero value is ready to use and safe for concurrent use.
type MemoryStore struct {
	m     sync.Map // key -> *Token
	locks sync.Map // key -> chan struct{} (a one-slot semaphore)
}

// LockToken takes the refresh lock for key, waiting until it is free or
// ctx ends.
func (s *MemoryStore) LockToken(ctx context.Context, key string) (func(), error) {
	v, _ := s.locks.LoadOrStore(key, make(chan struct{}, 1))
	sem := v.(chan struct{})
	select {
	case sem <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-sem }) }, nil
	case <-ctx.Done():
		return nil, errkind.Errorf("apiauth: waiting for the token lock: %w", ctx.Err())
	}
}

// LoadToken returns the token stored under key, or nil.
func (s *MemoryStore) LoadToken(_ context.Context, key string) (*Token, error) {
	v, ok := s.m.Load(key)
	if !ok {
		return nil, nil
	}
	return v.(*Token), nil
}

// StoreToken saves tok under key.
func (s *MemoryStore) StoreToken(_ context.Context, key string, tok *Token) error {
	s.m.Store(key, tok)
	return nil
}

// ErrTokenUnchanged is the cause recorded when a refresh returned the token
// the cache already had, with the same expiry, as oauth2's ReuseTokenSource
// does until shortly before expiry. The cache tries again after a backoff.
// While the token is still valid this is a normal answer, logged at debug
// and not passed to OnRefreshError; once it is not, the refresh has failed.
var ErrTokenUnchanged = errkind.New("apiauth: token source returned the same token")

// ErrTokenExpiredOnArrival is the cause reported when a refresh returned a
// token that had expired by the time it was received: its expiry (from the
// source, or from the JWT claims, corrected for clock skew when the JWT has
// an iat) is at or before the moment it arrived. The cache does not adopt
// it, nor save it to its store: it counts the refresh as failed and tries
// again after the backoff (MinBackoff, MaxBackoff), so that an endpoint
// handing out expired tokens is not called once per request.
var ErrTokenExpiredOnArrival = errkind.New("apiauth: token source returned a token that had already expired")

// ErrTokenRejected is the cause reported when the API rejected (a 401, and
// [TokenCache.Invalidate]) a JWT whose exp was already past when it
// arrived, which the cache had fetched to replace a token the API had
// rejected too: the source hands out expired JWTs, which the cache had
// taken for tokens from a server with a clock behind. The cache then backs
// off as after a failed refresh instead of fetching a token for every
// request.
var ErrTokenRejected = errkind.New("apiauth: the API rejected the new token too")

// rejectWindow is how soon after its adoption a rejected replacement
// token counts as a failed refresh. A token rejected later was in use and
// has been revoked: it is renewed at once, as any first rejection is.
const rejectWindow = time.Minute

// RefreshError reports that no valid token could be obtained: the last
// refresh failed and the cached token, if any, is no longer valid. It matches
// [ErrTokenRefresh] under errors.Is and unwraps to the cause.
type RefreshError struct {
	// Err is the cause of the last failed refresh.
	Err error
	// Failures counts the consecutive failed refreshes.
	Failures int
	// Next is when the cache will try again.
	Next time.Time
}

// Error describes the failure; it carries the cause's message, which
// apiauth's own errors keep free of secrets.
func (e *RefreshError) Error() string {
	return fmt.Sprintf("apiauth: token refresh failed (%d in a row, next attempt at %s): %v",
		e.Failures, e.Next.UTC().Format(time.RFC3339), errkind.Bare(e.Err))
}

// Is reports whether target is [ErrTokenRefresh].
func (e *RefreshError) Is(target error) bool { return target == errkind.TokenRefresh }

// Unwrap returns the cause.
func (e *RefreshError) Unwrap() error { return e.Err }

// entry is one adopted token with its schedule. Entries are immutable once
// published through TokenCache.cur.
type entry struct {
	tok       *Token
	authz     []string  // precomputed Authorization header value, len == cap == 1
	expiry    time.Time // local time
	staleAt   time.Time // background refresh from here
	invalidAt time.Time // no longer served from here
	invalid   bool      // dropped after a 401
	// adopted is when the token was adopted; afterReject is set when it
	// replaced a token the API had rejected; pastExp when its JWT exp was
	// already past by the local clock, and the cache took it for clock
	// skew (see tokenExpiry and Invalidate).
	adopted     time.Time
	afterReject bool
	pastExp     bool
	// fresh is true until a timer fires at staleAt. While it holds, Token
	// needs no clock read: on virtual machines a read of the wall and
	// monotonic clocks (time.Now) costs more than the rest of the hot path.
	fresh atomic.Bool
	// oauth2 is tok as an *oauth2.Token, built at the first OAuth2 call.
	oauth2 atomic.Pointer[oauth2.Token]
}

// flight is one refresh in progress; done closes when tok/err are set.
type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// TokenCache serves tokens from a [TokenSource], refreshing them before
// they expire. It is safe for concurrent use.
//
// A token is in one of three states, from its remaining lifetime:
//   - fresh: served with one atomic load, no lock and no allocation;
//   - stale (inside the refresh-ahead window): still served, while one
//     background refresh runs;
//   - invalid (inside the expiry margin, or dropped by [TokenCache.Invalidate]):
//     callers wait for one shared refresh, each on its own context.
//
// If that refresh fails, callers inside the margin get the old token until
// it actually expires, rather than an error.
//
// Never more than one refresh is in flight. A failed refresh is retried
// after a capped, jittered backoff while the still-valid token keeps being
// served; a caller sees an error only when no valid token exists.
//
// TokenCache implements [transport.Credential] and [transport.Invalidator],
// so it plugs into [transport.Auth] directly. Call Close when done with it.
type TokenCache struct {
	src  TokenSource
	opts CacheOptions
	id   string // names the cache for rate-limit bookkeeping; no secret

	cur atomic.Pointer[entry]
	// busy is set while a refresh is in flight; it lets the stale-window
	// path skip the mutex when a refresh is already running.
	busy atomic.Bool

	mu       sync.Mutex
	fl       *flight
	failures int
	// rejections counts the replacement tokens the API rejected in a row
	// (see Invalidate); it sets their backoff.
	rejections int
	next       time.Time // no refresh before this after a failure
	lastErr    error
	closed     bool
	// storeDown is set after a store failure was logged.
	storeDown atomic.Bool
	// staleTimer clears the current entry's fresh flag at its staleAt.
	staleTimer *time.Timer

	ctx    context.Context // cancelled by Close; parent of every refresh
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewTokenCache returns a cache in front of src. opts may be nil; its fields
// are copied. The cache fetches nothing until the first call to Token.
func NewTokenCache(src TokenSource, opts *CacheOptions) *TokenCache {
	c := &TokenCache{src: src}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	if o.RefreshAhead <= 0 {
		o.RefreshAhead = DefaultRefreshAhead
	}
	if o.ExpiryMargin <= 0 {
		o.ExpiryMargin = DefaultExpiryMargin
	}
	if o.DefaultLifetime <= 0 {
		o.DefaultLifetime = DefaultLifetime
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = DefaultRefreshTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.StoreKey == "" {
		o.StoreKey = "default"
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if o.Store != nil {
		c.id = secretIdentity("cache", o.StoreKey) // shared by the fleet
	} else {
		c.id = credentialIdentity(nil)
	}
	return c
}

// Token returns a valid token: the cached one when it is fresh or stale, or
// else the result of a refresh it waits for. A caller whose ctx ends while
// waiting returns at once with an error wrapping ctx.Err(); the refresh goes
// on for the others. A refresh this call starts, to wait for or ahead of
// expiry, carries ctx's values but not its cancellation (see
// CacheOptions.RefreshTimeout). When no valid token can be had, the error is a
// [*RefreshError]; after Close, it matches [ErrClosed].
func (c *TokenCache) Token(ctx context.Context) (*Token, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	return e.tok, nil
}

// entry is Token's body; it returns the entry so Apply can use its
// precomputed header.
func (c *TokenCache) entry(ctx context.Context) (*entry, error) {
	if e := c.cur.Load(); e != nil && !e.invalid {
		if e.fresh.Load() {
			return e, nil
		}
		now := time.Now()
		if now.Before(e.staleAt) {
			return e, nil
		}
		if now.Before(e.invalidAt) {
			if !c.busy.Load() {
				c.refreshAhead(ctx, e, now)
			}
			return e, nil
		}
	}
	return c.wait(ctx)
}

// refreshAhead starts a background refresh of the stale entry e unless one
// is running, the cache is closed, a failure's backoff has not elapsed, or
// e is no longer current: a refresh that completed since the caller saw e
// has already replaced it, and renewing its successor would spend a fresh
// token (and, with a single-use refresh token, the fleet's live one). The
// refresh carries the values of ctx, the context of the call that found e
// stale, but not its cancellation (see refreshContext).
func (c *TokenCache) refreshAhead(ctx context.Context, e *entry, now time.Time) {
	c.mu.Lock()
	if c.fl == nil && !c.closed && !now.Before(c.next) && c.cur.Load() == e {
		c.startLocked(ctx, e)
	}
	c.mu.Unlock()
}

// wait handles a missing or invalid token: it joins the refresh in flight or
// starts one, and waits for it on ctx.
func (c *TokenCache) wait(ctx context.Context) (*entry, error) {
	if err := ctx.Err(); err != nil {
		// A caller that has already given up starts no refresh.
		return nil, errkind.Errorf("apiauth: waiting for a token: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errkind.Errorf("apiauth: token cache: %w", errkind.Closed)
	}
	now := time.Now()
	e := c.cur.Load()
	if e != nil && !e.invalid && now.Before(e.invalidAt) {
		// A refresh completed while we were getting here.
		c.mu.Unlock()
		return e, nil
	}
	f := c.fl
	if f == nil {
		if c.lastErr != nil && now.Before(c.next) {
			if e != nil && !e.invalid && now.Before(e.expiry) {
				// Refreshing failed and is backing off: the token inside
				// its margin is still better than no token.
				c.mu.Unlock()
				return e, nil
			}
			err := &RefreshError{Err: c.lastErr, Failures: c.failures, Next: c.next}
			c.mu.Unlock()
			return nil, err
		}
		f = c.startLocked(ctx, e)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return c.entryFor(f.tok), nil
	case <-ctx.Done():
		return nil, errkind.Errorf("apiauth: waiting for a token: %w", ctx.Err())
	}
}

// entryFor returns the current entry if it holds tok (the normal case after
// a refresh), or builds a throwaway one.
func (c *TokenCache) entryFor(tok *Token) *entry {
	if e := c.cur.Load(); e != nil && e.tok == tok {
		return e
	}
	return &entry{tok: tok, authz: authzValue(tok)}
}

// startLocked starts a refresh on behalf of a call whose context is
// caller. c.mu must be held.
func (c *TokenCache) startLocked(caller context.Context, prev *entry) *flight {
	f := &flight{done: make(chan struct{})}
	c.fl = f
	c.busy.Store(true)
	c.wg.Add(1)
	go c.run(caller, f, prev)
	return f
}

// refreshContext returns the context of a refresh started by a call whose
// context is caller. It carries caller's values (trace ids, log
// correlation), so that the source's HTTP requests and the cache's log
// records belong to the call that caused the refresh; but not its
// cancellation nor its deadline: the refresh is shared by every caller
// that waits for it, and one of them giving up must not fail the others.
// It ends when the cache is closed or RefreshTimeout has passed.
func (c *TokenCache) refreshContext(caller context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(caller), c.opts.RefreshTimeout)
	stop := context.AfterFunc(c.ctx, cancel) // Close cancels the refresh
	return ctx, func() { stop(); cancel() }
}

// run performs one refresh and publishes its outcome.
func (c *TokenCache) run(caller context.Context, f *flight, prev *entry) {
	defer c.wg.Done()
	ctx, cancel := c.refreshContext(caller)
	defer cancel()
	if c.opts.OnRefreshStart != nil {
		if octx := c.opts.OnRefreshStart(ctx); octx != nil {
			ctx = octx
		}
	}

	tok, fromStore, err := c.fetch(ctx, prev)
	received := time.Now()

	var adopted *entry
	var outcome error // what OnRefreshEnd gets
	c.mu.Lock()
	switch {
	case c.closed:
		f.err = errkind.Errorf("apiauth: token cache: %w", errkind.Closed)
		outcome = f.err
	case err != nil:
		outcome = c.failLocked(ctx, f, prev, err, received)
	default:
		ne := c.newEntry(tok, received)
		if prev != nil && !fromStore && tok.AccessToken == prev.tok.AccessToken && sameInstant(ne.expiry, prev.expiry) {
			// The source handed back the token we had: not progress.
			outcome = c.failLocked(ctx, f, prev, ErrTokenUnchanged, received)
			break
		}
		ne.adopted = received
		ne.afterReject = prev != nil && prev.invalid
		exp, _ := jwtclaims.Times(tok.AccessToken, c.opts.MaxTokenSize)
		ne.pastExp = !exp.IsZero() && !exp.After(received)
		if !ne.afterReject {
			c.rejections = 0
		}
		c.publishLocked(ne, received)
		c.failures, c.lastErr, c.next = 0, nil, time.Time{}
		f.tok = tok
		adopted = ne
	}
	c.fl = nil
	c.busy.Store(false)
	c.mu.Unlock()
	if c.opts.OnRefreshEnd != nil {
		// Before the waiters go on, so that the refresh is over (its span
		// ended) by the time the call that caused it returns.
		c.opts.OnRefreshEnd(ctx, outcome)
	}
	close(f.done)

	if adopted == nil {
		return
	}
	c.log(ctx, slog.LevelDebug, "token refreshed", slog.Time("expiry", adopted.expiry), slog.Bool("from_store", fromStore))
	if c.opts.OnToken != nil {
		c.opts.OnToken(tok)
	}
}

// failLocked records a failed refresh. Waiters get the still-valid old token
// if there is one, or a RefreshError. ctx is the refresh's. c.mu must be
// held. It returns cause when it reported it as a failure, nil when not.
func (c *TokenCache) failLocked(ctx context.Context, f *flight, prev *entry, cause error, now time.Time) error {
	c.failures++
	c.lastErr = cause
	c.next = now.Add(c.backoff(c.failures))
	if cause == ErrTokenUnchanged && prev != nil && now.Before(prev.expiry) && c.next.After(prev.expiry) {
		// A reusing source (oauth2.ReuseTokenSource) rotates at expiry at
		// the latest: be there to take the new token.
		c.next = prev.expiry
	}
	if prev != nil && !prev.invalid && now.Before(prev.expiry) {
		// Still valid, if only inside its margin: keep serving it.
		f.tok = prev.tok
	} else {
		f.err = &RefreshError{Err: cause, Failures: c.failures, Next: c.next}
	}
	if cause == ErrTokenUnchanged && f.tok != nil {
		// A source that caches on its own (clientcredentials wraps
		// oauth2.ReuseTokenSource) answers with the token it has until
		// near its expiry: a normal answer, not a failure to report.
		c.log(ctx, slog.LevelDebug, "token source returned the same token; it renews near its own expiry",
			slog.Time("next", c.next))
		return nil
	}
	if c.opts.OnRefreshError != nil {
		c.opts.OnRefreshError(cause, c.next)
	}
	c.log(ctx, slog.LevelWarn, "token refresh failed", slog.String("error", cause.Error()),
		slog.Int("failures", c.failures), slog.Time("next", c.next))
	return cause
}

// fetch gets a new token. With a store, it first looks there: another
// cache (another process, in a fleet) may have stored a token newer than
// prev that is not yet stale, which is adopted as it is. If the store can
// lock ([TokenLocker]), the lookup and the refresh happen under its lock, so
// that one cache in the fleet refreshes and the others adopt its token; a
// stored token newer than prev but already stale is the one renewed, as its
// refresh token is the live one. The lock is waited for during half of
// RefreshTimeout at most (see lock), so that a lock held too long leaves
// time to refresh without it. A store that fails is logged and bypassed:
// the cache then refreshes on its own.
func (c *TokenCache) fetch(ctx context.Context, prev *entry) (tok *Token, fromStore bool, err error) {
	var base *Token
	if prev != nil {
		base = prev.tok
	}
	if s := c.opts.Store; s != nil {
		// Another cache may have refreshed already: look before queueing
		// for the lock, so a fleet does not take the lock in turn at every
		// expiry just to find the token there.
		if st, err := s.LoadToken(ctx, c.opts.StoreKey); err == nil && c.adoptable(st, base) {
			return st, true, nil
		}
		if l, ok := s.(TokenLocker); ok {
			if unlock := c.lock(ctx, l); unlock != nil {
				defer unlock()
			}
		}
		st, err := s.LoadToken(ctx, c.opts.StoreKey)
		if err != nil {
			c.storeFailed(ctx, "load", err)
		} else if c.storeDown.Swap(false) {
			c.log(ctx, slog.LevelInfo, "token store available again")
		}
		if err == nil && st != nil && st.AccessToken != "" && (base == nil || st.AccessToken != base.AccessToken) {
			if c.adoptable(st, base) {
				return st, true, nil
			}
			base = st
		}
	}
	if r, ok := c.src.(TokenRenewer); ok && base != nil {
		tok, err = r.RenewToken(ctx, base)
	} else {
		tok, err = c.src.Token(ctx)
	}
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = errkind.New("apiauth: token source returned no access token")
	}
	if err == nil {
		// Whatever the source, a token that cannot go into a header is a
		// failed refresh (backed off and retried), never an entry that
		// fails every request before it is sent.
		err = checkTokenHeader(tok, "token source's")
	}
	if err == nil {
		// A token with no life left would be served to no one (it is
		// past its margin) and refetched by every request.
		now := time.Now()
		if exp, ok := tokenExpiry(tok, now, c.opts.MaxTokenSize); ok && !exp.After(now) {
			err = ErrTokenExpiredOnArrival
		}
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	if err == nil && c.opts.Store != nil {
		// Save before the lock is released, with the expiry worked out
		// here, so the next holder sees this token and its schedule.
		saved := *tok
		if exp, ok := tokenExpiry(tok, time.Now(), c.opts.MaxTokenSize); ok {
			saved.Expiry = exp
		} else {
			saved.Expiry = time.Now().Add(c.opts.DefaultLifetime)
		}
		if err := c.opts.Store.StoreToken(ctx, c.opts.StoreKey, &saved); err != nil {
			c.storeFailed(ctx, "save", err)
		}
	}
	return tok, false, err
}

// errLockWait is the cause of the lock wait's end when its share of
// RefreshTimeout ran out.
var errLockWait = errkind.New("apiauth: refresh lock still held after half of RefreshTimeout")

// lock takes the store's refresh lock for the refresh whose context is ctx,
// and returns the function that releases it, or nil when the refresh goes
// on without the lock. The wait gets half of RefreshTimeout: a holder that
// is slow, or a lock that is never released, leaves this cache the other
// half to refresh on its own, as it does when the store fails.
//
// The wait is not ended by a deadline on the context given to LockToken,
// because a locker may keep the lock alive for as long as that context
// lives (redisstore renews its lease until then): a timer cancels the wait,
// and is stopped once the lock is taken, so that the context then lives as
// long as the refresh.
func (c *TokenCache) lock(ctx context.Context, l TokenLocker) func() {
	lctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(c.opts.RefreshTimeout/2, func() { cancel(errLockWait) })
	unlock, err := l.LockToken(lctx, c.opts.StoreKey)
	t.Stop() // had it fired as the lock was taken, the lease still holds it
	switch {
	case err == nil:
		return func() { unlock(); cancel(nil) }
	case context.Cause(lctx) == errLockWait:
		cancel(nil)
		c.log(ctx, slog.LevelWarn, "token refresh lock held too long, refreshing without it",
			slog.Duration("waited", c.opts.RefreshTimeout/2))
		return nil
	default:
		cancel(nil)
		c.storeFailed(ctx, "lock", err)
		return nil
	}
}

// adoptable reports whether st, loaded from the store, can replace base as
// it is: another token, not yet stale.
func (c *TokenCache) adoptable(st, base *Token) bool {
	if st == nil || st.AccessToken == "" || (base != nil && st.AccessToken == base.AccessToken) || checkTokenHeader(st, "") != nil {
		return false
	}
	return time.Now().Before(c.newEntry(st, time.Now()).staleAt)
}

// storeFailed logs a store failure, once until the store works again. A
// failure because the refresh itself was cancelled (Close) says nothing
// about the store and is not logged. ctx is the refresh's.
func (c *TokenCache) storeFailed(ctx context.Context, op string, err error) {
	if c.ctx.Err() != nil {
		return
	}
	if c.storeDown.CompareAndSwap(false, true) {
		c.log(ctx, slog.LevelWarn, "token store unavailable, refreshing locally", slog.String("op", op), slog.String("error", err.Error()))
	}
}

// publishLocked makes e the current entry, fresh until its staleAt. c.mu
// must be held.
func (c *TokenCache) publishLocked(e *entry, now time.Time) {
	if c.staleTimer != nil {
		c.staleTimer.Stop()
	}
	c.staleTimer = nil
	if d := e.staleAt.Sub(now); d > 0 {
		e.fresh.Store(true)
		c.staleTimer = time.AfterFunc(d, func() { e.fresh.Store(false) })
	}
	c.cur.Store(e)
}

// newEntry computes the schedule of tok, received at the local time now.
func (c *TokenCache) newEntry(tok *Token, now time.Time) *entry {
	expiry, ok := tokenExpiry(tok, now, c.opts.MaxTokenSize)
	if !ok {
		expiry = now.Add(c.opts.DefaultLifetime)
	}
	// Rebase on now, which carries a monotonic clock reading: from here on
	// the lifetime is measured on the monotonic clock, so a wall clock that
	// jumps does not expire a token early or keep it late.
	life := expiry.Sub(now)
	expiry = now.Add(life)
	if life < 0 {
		life = 0
	}
	ahead := min(c.opts.RefreshAhead, life/4)
	margin := min(c.opts.ExpiryMargin, life/10)
	return &entry{
		tok:       tok,
		authz:     authzValue(tok),
		expiry:    expiry,
		staleAt:   expiry.Add(-ahead),
		invalidAt: expiry.Add(-margin),
	}
}

func authzValue(tok *Token) []string {
	return []string{tok.Type() + " " + tok.AccessToken}[:1:1]
}

// sameInstant reports whether two expiries are equal to the second, the
// resolution of JWT claims.
func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Second && d > -time.Second
}

// backoff returns the jittered wait after n consecutive failures: between
// half and all of MinBackoff·2^(n-1), capped at MaxBackoff.
func (c *TokenCache) backoff(n int) time.Duration {
	d := c.opts.MinBackoff
	for i := 1; i < n && d < c.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Invalidate drops tok if it is still the cache's current token, and starts
// a refresh. It reports whether tok was dropped. Many concurrent calls for
// the same token (many requests answered 401) cause one refresh.
//
// A JWT whose exp is already past by the local clock is taken for a token
// from a server whose clock is behind, and used. When the API rejects such
// a token, fetched less than a minute ago to replace a token it had
// rejected already, the JWTs really are expired: no refresh starts, and
// the rejection counts as a failed refresh ([ErrTokenRejected]), retried
// after the backoff like any other.
func (c *TokenCache) Invalidate(tok *Token) bool {
	return c.invalidate(tok, true)
}

// invalidate is Invalidate; start false leaves the refresh to the next
// call, which waits for it.
func (c *TokenCache) invalidate(tok *Token, start bool) bool {
	for {
		e := c.cur.Load()
		if e == nil || e.tok != tok || e.invalid {
			return false
		}
		ne := &entry{tok: e.tok, authz: e.authz, expiry: e.expiry, staleAt: e.staleAt, invalidAt: e.invalidAt, invalid: true,
			adopted: e.adopted, afterReject: e.afterReject, pastExp: e.pastExp}
		if c.cur.CompareAndSwap(e, ne) {
			c.log(context.Background(), slog.LevelDebug, "token invalidated")
			c.mu.Lock()
			now := time.Now()
			switch {
			case c.closed:
			case e.pastExp && e.afterReject && now.Sub(e.adopted) < rejectWindow:
				c.rejectLocked(now)
			default:
				c.rejections = 0
				if start && c.fl == nil && !now.Before(c.next) {
					c.startLocked(context.Background(), ne)
				}
			}
			c.mu.Unlock()
			return true
		}
	}
}

// rejectLocked records that the API rejected a replacement token as a
// failed refresh, backed off by the count of such rejections in a row.
// c.mu must be held.
func (c *TokenCache) rejectLocked(now time.Time) {
	c.rejections++
	c.failures = max(c.failures, c.rejections)
	c.lastErr = ErrTokenRejected
	c.next = now.Add(c.backoff(c.rejections))
	if c.opts.OnRefreshError != nil {
		c.opts.OnRefreshError(ErrTokenRejected, c.next)
	}
	c.log(context.Background(), slog.LevelWarn, "token refresh failed", slog.String("error", ErrTokenRejected.Error()),
		slog.Int("failures", c.failures), slog.Time("next", c.next))
}

// InvalidateCredential drops the *Token that Apply returned, as Invalidate
// does, but leaves the refresh to the call to Apply that [transport.Auth]
// makes next: the refresh then carries the values of that request's
// context (its trace id), and starts as Invalidate would have started it.
// It implements [transport.Invalidator].
func (c *TokenCache) InvalidateCredential(used any) bool {
	tok, ok := used.(*Token)
	return ok && c.invalidate(tok, false)
}

// Apply sets "Authorization: <type> <token>" on h with a valid token and
// returns that *Token as the handle for InvalidateCredential. It implements
// [transport.Credential].
func (c *TokenCache) Apply(ctx context.Context, h http.Header) (any, error) {
	e, err := c.entry(ctx)
	if err != nil {
		return nil, err
	}
	h["Authorization"] = e.authz
	return e.tok, nil
}

// closeWait bounds how long Close waits for a cancelled refresh to end.
const closeWait = 5 * time.Second

// Close stops the cache: it cancels a refresh in flight, waits for its
// goroutine to end, and makes later calls to Token fail with [ErrClosed].
// It is safe to call more than once.
//
// Close returns in bounded time. A source that honours its context (as
// [TokenSource] requires, and the sources of this package and [FromOAuth2]
// do) ends at once; for one that does not, Close waits at most 5 s and then
// returns an error saying so, leaving the refresh's goroutine to end when
// the source returns (its result is discarded).
func (c *TokenCache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cur.Store(nil)
	if c.staleTimer != nil {
		c.staleTimer.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errkind.Errorf("apiauth: token cache closed with a refresh still running after %s: its source (%T) ignores its context", closeWait, c.src)
	}
}

// String describes the cache by its source's type. It reads none of the
// cache's state: fmt's reflection over a live cache would race with its
// refreshes, and could reach a secret.
func (c *TokenCache) String() string {
	if c == nil {
		return "apiauth.TokenCache(nil)"
	}
	return fmt.Sprintf("apiauth.TokenCache{source: %T}", c.src)
}

// goString returns, for %#v, the same form as String.
func (c *TokenCache) goString() string { return c.String() }

// Format prints the cache as String does under every verb.
func (c *TokenCache) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.goString())
}

// log emits a record with ctx, the context of the refresh (which carries
// the values of the call that started it) or of the call at hand, so that
// a handler reading a trace id from the context finds it.
func (c *TokenCache) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if l := c.opts.Logger; l != nil {
		l.LogAttrs(ctx, level, "apiauth: "+msg, attrs...)
	}
}

var (
	_ transport.Credential  = (*TokenCache)(nil)
	_ transport.Invalidator = (*TokenCache)(nil)
)
