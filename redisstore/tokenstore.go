package redisstore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
)

// Defaults of [TokenOptions].
const (
	// DefaultLease is the lifetime of the refresh lock: how long the fleet
	// waits for a holder that died before another process takes over.
	DefaultLease = 5 * time.Second
	// DefaultGrace is how long a token entry stays in Redis after the
	// token's expiry.
	DefaultGrace = 10 * time.Minute
	// DefaultPollInterval is the longest a lock waiter sleeps between two
	// attempts when no release notification arrives.
	DefaultPollInterval = 100 * time.Millisecond
)

// minEntryTTL is the shortest TTL given to a token entry, for tokens
// stored long past their expiry.
const minEntryTTL = time.Second

// TokenOptions configures a [TokenStore]. The zero value is ready to use:
// every zero field means the default documented on it. [NewTokenStore]
// copies the options.
type TokenOptions struct {
	// Prefix starts every Redis key and channel name of the store, for
	// example "myservice:apiauth:". Processes that share tokens must use
	// the same Prefix; changing it starts a new, empty namespace. Empty
	// means DefaultPrefix ("apiauth:").
	Prefix string
	// OpTimeout bounds each Redis command, so that a slow or unreachable
	// Redis turns into an error quickly and the token cache refreshes on
	// its own instead. Zero means DefaultOpTimeout (200 ms).
	OpTimeout time.Duration
	// Lease is the lifetime of the refresh lock. While its holder lives the
	// lease is renewed every Lease/3; if the holder dies, the lock expires
	// at most Lease later and another process takes over. Zero means
	// DefaultLease (5 s).
	Lease time.Duration
	// Grace is how long a token entry outlives the token's expiry; every
	// entry's TTL is the time until the expiry plus Grace (Grace alone for
	// a token without expiry). Zero means DefaultGrace (10 min).
	Grace time.Duration
	// PollInterval is the longest a lock waiter sleeps between attempts.
	// Waiters are normally woken at once by a release notification (Redis
	// pub/sub); polling covers lost notifications and holders that died.
	// Waits are jittered between 3/4 and 5/4 of the interval; a lock whose
	// lease ends sooner is tried again when it ends (plus up to an eighth
	// of the time left). Zero means DefaultPollInterval (100 ms).
	PollInterval time.Duration
	// EncryptionKey, if set, seals every token entry with AES-GCM (a
	// 16-, 24- or 32-byte key selects AES-128, -192 or -256), bound to its
	// Redis key. A store with a key reads only entries sealed with that
	// key; to rotate keys, change Prefix together with the key. Nil means
	// entries are stored unencrypted (Redis ACLs and TLS still apply).
	EncryptionKey []byte
}

// TokenStore shares tokens between the processes of a fleet through Redis.
// It implements [apiauth.TokenStore] and [apiauth.TokenLocker]: set it as
// [apiauth.CacheOptions].Store and the fleet's caches log in once and
// refresh once per expiry between them. Create it with [NewTokenStore]; the
// methods of the zero value return errors. It is safe for concurrent use,
// never logs, and never puts a token in an error.
//
// Each credential (the cache's StoreKey) has two keys,
// "<prefix>{<sha256 of StoreKey>}:token" and "...:lock", both with a TTL.
// Every Redis command is bounded by OpTimeout: when Redis is slow or down,
// the methods fail quickly and the cache refreshes locally.
type TokenStore struct {
	client redis.UniversalClient
	opts   TokenOptions
	ks     keyspace
	codec  codec
	notify notifier
	closed atomic.Bool
}

// NewTokenStore returns a store on client. opts may be nil. The client must
// be a go-redis client with ContextTimeoutEnabled set, so that OpTimeout
// bounds each command (NewTokenStore checks *redis.Client,
// *redis.ClusterClient and *redis.Ring), and it stays the caller's: Close
// does not close it. It returns an error for invalid options.
func NewTokenStore(client redis.UniversalClient, opts *TokenOptions) (*TokenStore, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	var o TokenOptions
	if opts != nil {
		o = *opts
	}
	for name, d := range map[string]time.Duration{
		"OpTimeout": o.OpTimeout, "Lease": o.Lease, "Grace": o.Grace, "PollInterval": o.PollInterval,
	} {
		if d < 0 {
			return nil, errkind.Errorf("apiauth: redisstore: negative %s %v", name, d)
		}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Lease < 3*time.Millisecond {
		return nil, errkind.Errorf("apiauth: redisstore: Lease %v is shorter than 3ms", o.Lease)
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	c, err := newCodec(o.EncryptionKey)
	if err != nil {
		return nil, err
	}
	o.EncryptionKey = nil // the cipher holds its own copy
	s := &TokenStore{client: client, opts: o, ks: keyspace{prefix: o.Prefix}, codec: c}
	s.notify = notifier{client: client, channel: s.ks.channel("lock-released"), opTimeout: o.OpTimeout}
	return s, nil
}

// opContext bounds one Redis command.
func (s *TokenStore) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.OpTimeout)
}

func (s *TokenStore) checkOpen() error {
	if s.client == nil {
		return errkind.New("apiauth: redisstore: TokenStore not made by NewTokenStore")
	}
	if s.closed.Load() {
		return errkind.Errorf("apiauth: redisstore: %w", apiauth.ErrClosed)
	}
	return nil
}

// LoadToken returns the token stored under key, or nil and no error if
// there is none. An entry that cannot be read (altered, sealed with another
// EncryptionKey, or plain while a key is set) is an error.
func (s *TokenStore) LoadToken(ctx context.Context, key string) (*apiauth.Token, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rk := s.ks.key(s.ks.id(key), "token")
	octx, cancel := s.opContext(ctx)
	defer cancel()
	data, err := s.client.Get(octx, rk).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.Errorf("apiauth: redisstore: loading a token: %w", err)
	}
	return s.codec.Decode(rk, data)
}

// StoreToken saves tok under key, replacing any previous token, with a TTL
// of the time until tok.Expiry plus Grace (at least one second).
func (s *TokenStore) StoreToken(ctx context.Context, key string, tok *apiauth.Token) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if tok == nil || tok.AccessToken == "" {
		return errkind.New("apiauth: redisstore: no token to store")
	}
	rk := s.ks.key(s.ks.id(key), "token")
	data, err := s.codec.Encode(rk, tok)
	if err != nil {
		return err
	}
	ttl := s.opts.Grace
	if !tok.Expiry.IsZero() {
		ttl += time.Until(tok.Expiry)
	}
	ttl = max(ttl, minEntryTTL)
	octx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.client.Set(octx, rk, data, ttl).Err(); err != nil {
		return errkind.Errorf("apiauth: redisstore: storing a token: %w", err)
	}
	return nil
}

// Lock scripts. The value of a lock is its holder's random fencing token:
// only the holder renews or deletes it.
var (
	// renewScript extends the lease of a lock still held: KEYS[1] the lock,
	// ARGV[1] the fencing token, ARGV[2] the lease in milliseconds.
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	// leaseScript returns the remaining lease of a lock held by another, in
	// milliseconds (-2 if it is gone): KEYS[1] the lock, ARGV[1] the lease
	// in milliseconds. A lock without a TTL is none of a holder's (every
	// holder sets one, atomically): it was left by hand or by a tool, and
	// would block the fleet's refreshes for ever. It is given one lease,
	// after which it is stale and taken over like a dead holder's.
	leaseScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	return tonumber(ARGV[1])
end
return ttl`)
	// releaseScript deletes a lock still held and announces it: KEYS[1]
	// the lock, ARGV[1] the fencing token, ARGV[2] the channel, ARGV[3]
	// the credential id.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.call('PUBLISH', ARGV[2], ARGV[3])
	return 1
end
return 0`)
)

// LockToken takes the refresh lock for key, waiting while another process
// (or goroutine) holds it, until ctx ends. The lock is a Redis key set with
// SET NX PX and a random fencing value; while held, its lease is renewed
// every Lease/3 until the returned function is called or ctx ends, so a
// holder that dies loses it at most Lease later. A lock key without a TTL
// (no holder's: left by hand or by a tool) is given a lease of Lease by
// the first waiter that sees it, and taken over when that ends. The
// returned function
// releases the lock (only if still ours) and wakes the waiters; it may be
// called more than once. A Redis error ends the wait at once with an error.
func (s *TokenStore) LockToken(ctx context.Context, key string) (func(), error) {
	id := s.ks.id(key)
	lk := s.ks.key(id, "lock")
	var b [16]byte
	_, _ = crand.Read(b[:])
	fence := hex.EncodeToString(b[:])
	for attempt := 0; ; attempt++ {
		if err := s.checkOpen(); err != nil {
			return nil, err
		}
		// Watch before trying, so that a release between a failed attempt
		// and the wait is not missed. A store subscribes at its first
		// contention only: uncontended processes hold no subscription.
		released := s.notify.watch(id, attempt > 0)
		ok, remaining, err := s.tryLock(ctx, lk, fence)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.hold(ctx, lk, fence, id), nil
		}
		if released == nil && attempt == 0 {
			continue // subscribe, then try again before waiting
		}
		p := s.opts.PollInterval
		wait := p*3/4 + rand.N(p/2+1)
		if remaining > 0 && remaining < p {
			// Wake when the lease ends, should no release come first.
			wait = remaining + rand.N(remaining/8+1)
		}
		t := time.NewTimer(wait)
		select {
		case <-released:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, errkind.Errorf("apiauth: redisstore: waiting for the refresh lock: %w", ctx.Err())
		}
		t.Stop()
	}
}

// tryLock makes one attempt at the lock. When it is held by another, it
// reports the lock's remaining lease (zero if unknown).
func (s *TokenStore) tryLock(ctx context.Context, lk, fence string) (bool, time.Duration, error) {
	octx, cancel := s.opContext(ctx)
	defer cancel()
	ok, err := s.client.SetNX(octx, lk, fence, s.opts.Lease).Result()
	if err != nil {
		// Had Redis set the key before the timeout, the lock stays taken
		// until its lease ends: no one renews it.
		return false, 0, errkind.Errorf("apiauth: redisstore: taking the refresh lock: %w", err)
	}
	if ok {
		return true, 0, nil
	}
	ms, err := leaseScript.Run(octx, s.client, []string{lk}, s.opts.Lease.Milliseconds()).Int64()
	if err != nil {
		return false, 0, errkind.Errorf("apiauth: redisstore: reading the refresh lock's lease: %w", err)
	}
	if ms <= 0 {
		// Released since: try again at once.
		return false, time.Nanosecond, nil
	}
	return false, time.Duration(ms) * time.Millisecond, nil
}

// hold renews the lease of a lock just taken until the returned release
// function runs or ctx ends.
func (s *TokenStore) hold(ctx context.Context, lk, fence, id string) func() {
	bg := context.WithoutCancel(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			octx, cancel := s.opContext(bg)
			n, err := renewScript.Run(octx, s.client, []string{lk}, fence, s.opts.Lease.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				return // lost: expired and maybe taken by another
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			octx, cancel := s.opContext(bg)
			defer cancel()
			// On error the lease expires by itself.
			_ = releaseScript.Run(octx, s.client, []string{lk}, fence, s.notify.channel, id).Err()
		})
	}
}

// Close stops the store's release subscription and makes later calls fail
// with an error matching [apiauth.ErrClosed]. It does not close the client.
// Close the token caches using the store first. It is safe to call more
// than once.
func (s *TokenStore) Close() error {
	s.closed.Store(true)
	s.notify.close()
	return nil
}

var (
	_ apiauth.TokenStore  = (*TokenStore)(nil)
	_ apiauth.TokenLocker = (*TokenStore)(nil)
)
