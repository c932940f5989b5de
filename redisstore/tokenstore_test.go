package redisstore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

const (
	secretAccess  = "eyJhbGciOiJIUzI1NiJ9.secret-access-part.sig"
	secretRefresh = "refresh-secret-0123456789"
)

func fullToken(exp time.Time) *apiauth.Token {
	return &apiauth.Token{
		AccessToken:  secretAccess,
		TokenType:    "Bearer",
		RefreshToken: secretRefresh,
		Expiry:       exp,
		Extra: map[string]any{"user": map[string]any{
			"id": "user_1", "email": "user@company.com", "roles": []any{"admin", "member"}, "n": 3.0, "ok": true,
		}},
	}
}

func TestStoreRoundTrip(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"plain", nil},
		{"AES-128-GCM", []byte("0123456789abcdef")},
		{"AES-256-GCM", []byte("0123456789abcdef0123456789abcdef")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, srv, redisstore.TokenOptions{EncryptionKey: tc.key})
			if tok, err := s.LoadToken(bg, "audimodal:user@company.com"); tok != nil || err != nil {
				t.Fatalf("LoadToken before any store = %v, %v; want nil, nil", tok, err)
			}
			want := fullToken(time.Now().Add(time.Hour))
			if err := s.StoreToken(bg, "audimodal:user@company.com", want); err != nil {
				t.Fatal(err)
			}
			got, err := s.LoadToken(bg, "audimodal:user@company.com")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Expiry.Equal(want.Expiry) {
				t.Errorf("Expiry = %v, want %v", got.Expiry, want.Expiry)
			}
			g, w := *got, *want
			g.Expiry, w.Expiry = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("LoadToken = %#v\nwant %#v", g.Extra, w.Extra)
				t.Errorf("access/refresh/type equal: %v %v %v", g.AccessToken == w.AccessToken, g.RefreshToken == w.RefreshToken, g.TokenType == w.TokenType)
			}

			k := redisKey(testPrefix(t), "audimodal:user@company.com", "token")
			val, err := raw.Get(bg, k).Result()
			if err != nil {
				t.Fatalf("entry not under the documented key %q: %v", k, err)
			}
			if tc.key != nil {
				for _, secret := range []string{secretAccess, "secret-access-part", secretRefresh, "user@company.com"} {
					if strings.Contains(val, secret) {
						t.Errorf("encrypted entry contains %q in clear", secret)
					}
				}
			}
		})
	}
}

func TestStoreUnknownExpiryRoundTrips(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	s := newStore(t, srv, redisstore.TokenOptions{})
	if err := s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadToken(bg, "k")
	if err != nil || got.AccessToken != "a" || !got.Expiry.IsZero() || got.RefreshToken != "" || got.Extra != nil {
		t.Fatalf("LoadToken = %+v, %v; want the access token with unknown expiry and nothing else", got, err)
	}
	if err := s.StoreToken(bg, "k", nil); err == nil {
		t.Error("StoreToken(nil) succeeded")
	}
	if err := s.StoreToken(bg, "k", &apiauth.Token{RefreshToken: "r"}); err == nil {
		t.Error("StoreToken without access token succeeded")
	}
	bad := &apiauth.Token{AccessToken: secretAccess, Extra: map[string]any{"ch": make(chan int)}}
	if err := s.StoreToken(bg, "k", bad); err == nil || strings.Contains(err.Error(), secretAccess) {
		t.Errorf("StoreToken with unencodable Extra = %v; want an error without the token", err)
	}
}

// Store keys are hashed: odd characters are harmless and never reach a
// Redis key name, and prefixes separate namespaces.
func TestStoreKeysAreHashedAndNamespaced(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	odd := "tenant a/b {x}*?[\n\x00ü:" + strings.Repeat("z", 300)
	a := newStore(t, srv, redisstore.TokenOptions{Prefix: "svc-a:"})
	b := newStore(t, srv, redisstore.TokenOptions{Prefix: "svc-b:"})
	if err := a.StoreToken(bg, odd, &apiauth.Token{AccessToken: "for-a"}); err != nil {
		t.Fatal(err)
	}
	unlock, err := a.LockToken(bg, odd)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := raw.Keys(bg, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{redisKey("svc-a:", odd, "token"): true, redisKey("svc-a:", odd, "lock"): true}
	if len(keys) != 2 || !want[keys[0]] || !want[keys[1]] {
		t.Errorf("Redis keys = %q, want the keys of %v", keys, want)
	}
	unlock()
	if tok, err := b.LoadToken(bg, odd); tok != nil || err != nil {
		t.Errorf("another prefix sees %v, %v; want nothing", tok, err)
	}
	if tok, err := a.LoadToken(bg, odd); err != nil || tok.AccessToken != "for-a" {
		t.Errorf("LoadToken = %v, %v", tok, err)
	}
	if n, _ := raw.Exists(bg, redisKey("svc-a:", odd, "lock")).Result(); n != 0 {
		t.Error("lock key still there after unlock")
	}
}

func TestStoreEntryTTL(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	prefix := testPrefix(t)
	s := newStore(t, srv, redisstore.TokenOptions{Prefix: prefix, Grace: time.Minute})
	for _, tc := range []struct {
		name     string
		expiry   time.Time
		min, max time.Duration
	}{
		{"until expiry plus grace", time.Now().Add(30 * time.Second), 89 * time.Second, 90 * time.Second},
		{"unknown expiry: grace", time.Time{}, 59 * time.Second, 60 * time.Second},
		{"long expired: one second", time.Now().Add(-time.Hour), 1, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.StoreToken(bg, tc.name, &apiauth.Token{AccessToken: "a", Expiry: tc.expiry}); err != nil {
				t.Fatal(err)
			}
			ttl, err := raw.PTTL(bg, redisKey(prefix, tc.name, "token")).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl < tc.min || ttl > tc.max {
				t.Errorf("PTTL = %v, want in [%v, %v]", ttl, tc.min, tc.max)
			}
		})
	}
}

// An entry that does not decode is an error that names the problem and
// quotes nothing; it never becomes a token.
func TestStoreRefusesUnreadableEntries(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	keyA := []byte("0123456789abcdef0123456789abcdef")
	keyB := []byte("fedcba9876543210fedcba9876543210")
	prefix := testPrefix(t)
	store := func(key []byte) *redisstore.TokenStore {
		return newStore(t, srv, redisstore.TokenOptions{Prefix: prefix, EncryptionKey: key})
	}
	plain, sealedA, sealedB := store(nil), store(keyA), store(keyB)
	tok := fullToken(time.Now().Add(time.Hour))
	entry := func(s *redisstore.TokenStore, storeKey string) string {
		t.Helper()
		if err := s.StoreToken(bg, storeKey, tok); err != nil {
			t.Fatal(err)
		}
		v, err := raw.Get(bg, redisKey(prefix, storeKey, "token")).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sealed := entry(sealedA, "src")
	flipped := []byte(sealed)
	flipped[len(flipped)-1] ^= 1

	for _, tc := range []struct {
		name   string
		value  string // written raw under "k"; empty: use the store's own entry
		reader *redisstore.TokenStore
		want   string
	}{
		{"sealed with another key", "", sealedB, "does not decrypt"},
		{"plain entry with a key set", entry(plain, "p"), sealedA, "not encrypted"},
		{"sealed entry without a key", sealed, plain, "no EncryptionKey"},
		{"sealed entry moved to another key", sealed, sealedA, "does not decrypt"},
		{"altered ciphertext", string(flipped), sealedA, "does not decrypt"},
		{"truncated", sealed[:10], sealedA, "too short"},
		{"unknown version", "\x07\x00{}", plain, "version"},
		{"not JSON", "\x01\x00{\"a\":", plain, "invalid JSON"},
		{"no access token", "\x01\x00{\"r\":\"" + secretRefresh + "\"}", plain, "no access token"},
		{"empty", "", plain, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "sealed with another key" {
				entry(sealedA, "k")
			} else if err := raw.Set(bg, redisKey(prefix, "k", "token"), tc.value, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := tc.reader.LoadToken(bg, "k")
			if err == nil || got != nil {
				t.Fatalf("LoadToken = %v, %v; want an error", got, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "apiauth: ") {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, secret := range []string{secretAccess, secretRefresh, "user@company.com"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q quotes a secret", msg)
				}
			}
		})
	}
}

func TestNewTokenStoreValidates(t *testing.T) {
	good := func() redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	}
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   *redisstore.TokenOptions
		want   string
	}{
		{"nil client", nil, nil, "nil client"},
		{"context timeouts off", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), nil, "ContextTimeoutEnabled"},
		{"cluster with context timeouts off", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), nil, "ContextTimeoutEnabled"},
		{"ring with context timeouts off", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}}), nil, "ContextTimeoutEnabled"},
		{"socket deadlines off", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, ReadTimeout: -2}), nil, "ReadTimeout"},
		{"negative OpTimeout", good(), &redisstore.TokenOptions{OpTimeout: -1}, "negative OpTimeout"},
		{"negative Lease", good(), &redisstore.TokenOptions{Lease: -1}, "negative Lease"},
		{"negative Grace", good(), &redisstore.TokenOptions{Grace: -time.Second}, "negative Grace"},
		{"negative PollInterval", good(), &redisstore.TokenOptions{PollInterval: -1}, "negative PollInterval"},
		{"tiny Lease", good(), &redisstore.TokenOptions{Lease: time.Millisecond}, "Lease"},
		{"bad key size", good(), &redisstore.TokenOptions{EncryptionKey: []byte("short")}, "16, 24 or 32 bytes, got 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.client != nil {
				defer tc.client.Close()
			}
			s, err := redisstore.NewTokenStore(tc.client, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewTokenStore = %v, %v; want an error saying %q", s, err, tc.want)
			}
		})
	}
	c := good()
	defer c.Close()
	s, err := redisstore.NewTokenStore(c, nil)
	if err != nil {
		t.Fatalf("NewTokenStore with defaults: %v", err)
	}
	s.Close()
}

// A waiter is woken by the holder's release notification: with polling
// set to a minute, only the notification can hand it the lock in time.
func TestLockWaiterWokenByRelease(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	a := newStore(t, srv, redisstore.TokenOptions{PollInterval: time.Minute})
	b := newStore(t, srv, redisstore.TokenOptions{PollInterval: time.Minute})
	unlockA, err := a.LockToken(bg, "k")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Bool
	done := make(chan func())
	go func() {
		unlock, err := b.LockToken(bg, "k")
		if err != nil {
			t.Error(err)
		}
		got.Store(true)
		done <- unlock
	}()
	// Wait until b's subscription is in place, then check it still waits.
	eventually(t, 5*time.Second, "b subscribed", func() bool {
		n, _ := raw.PubSubNumSub(bg, testPrefix(t)+"lock-released").Result()
		return n[testPrefix(t)+"lock-released"] == 1
	})
	time.Sleep(30 * time.Millisecond)
	if got.Load() {
		t.Fatal("b took the lock while a held it")
	}
	unlockA()
	unlockA() // harmless
	var unlockB func()
	select {
	case unlockB = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("b not woken by a's release")
	}
	if v, _ := raw.Get(bg, redisKey(testPrefix(t), "k", "lock")).Result(); v == "" {
		t.Error("no lock key while b holds the lock")
	}
	unlockB()
	if n, _ := raw.Exists(bg, redisKey(testPrefix(t), "k", "lock")).Result(); n != 0 {
		t.Error("lock key left after the last unlock")
	}
}

// A lock left by a holder that died (a key with a lease and no renewal) is
// taken as soon as its lease ends, not a poll interval later, and not
// before.
func TestLockTakesOverFromDeadHolder(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	s := newStore(t, srv, redisstore.TokenOptions{PollInterval: time.Minute})
	lk := redisKey(testPrefix(t), "k", "lock")
	start := time.Now()
	if err := raw.Set(bg, lk, "dead-holder", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	var unlock func()
	bounded(t, 5*time.Second, "LockToken", func() {
		var err error
		if unlock, err = s.LockToken(bg, "k"); err != nil {
			t.Error(err)
		}
	})
	if unlock == nil {
		return
	}
	defer unlock()
	if waited := time.Since(start); waited < 290*time.Millisecond {
		t.Errorf("took the lock after %v, before the dead holder's 300ms lease ended", waited)
	}
	if v, _ := raw.Get(bg, lk).Result(); v == "dead-holder" || v == "" {
		t.Errorf("lock value = %q, want our fencing token", v)
	}
}

// A live holder keeps its lock past the lease: the lease is renewed.
func TestLockLeaseRenewedWhileHeld(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	a := newStore(t, srv, redisstore.TokenOptions{Lease: 150 * time.Millisecond})
	b := newStore(t, srv, redisstore.TokenOptions{Lease: 150 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	unlock, err := a.LockToken(bg, "k")
	if err != nil {
		t.Fatal(err)
	}
	lk := redisKey(testPrefix(t), "k", "lock")
	held, _ := raw.Get(bg, lk).Result()
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if v, _ := raw.Get(bg, lk).Result(); v != held {
			t.Fatalf("lock value changed to %q while held (lease not renewed)", v)
		}
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	if _, err := b.LockToken(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second LockToken while held = %v, want DeadlineExceeded", err)
	}
	unlock()
	if n, _ := raw.Exists(bg, lk).Result(); n != 0 {
		t.Error("lock key left after unlock")
	}
}

// A holder whose lease ran out (its renewal stopped with its ctx) must not
// delete the lock another holder has taken since.
func TestUnlockLeavesTheNextHoldersLock(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	raw := rawClient(t, srv)
	a := newStore(t, srv, redisstore.TokenOptions{Lease: 100 * time.Millisecond})
	b := newStore(t, srv, redisstore.TokenOptions{Lease: 10 * time.Second, PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(bg)
	unlockA, err := a.LockToken(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancel() // stops a's renewals: its lease runs out
	unlockB, err := b.LockToken(bg, "k")
	if err != nil {
		t.Fatal(err)
	}
	lk := redisKey(testPrefix(t), "k", "lock")
	before, _ := raw.Get(bg, lk).Result()
	unlockA()
	if after, _ := raw.Get(bg, lk).Result(); after != before || after == "" {
		t.Errorf("a's late unlock changed b's lock from %q to %q", before, after)
	}
	unlockB()
	if n, _ := raw.Exists(bg, lk).Result(); n != 0 {
		t.Error("lock key left after b's unlock")
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	a := newStore(t, srv, redisstore.TokenOptions{})
	b := newStore(t, srv, redisstore.TokenOptions{PollInterval: time.Minute})
	unlock, err := a.LockToken(bg, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(bg)
	time.AfterFunc(30*time.Millisecond, cancel)
	bounded(t, 5*time.Second, "LockToken after cancel", func() {
		if _, err := b.LockToken(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("LockToken = %v, want context.Canceled", err)
		}
	})
}

func TestStoreClosed(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	s := newStore(t, srv, redisstore.TokenOptions{})
	other := newStore(t, srv, redisstore.TokenOptions{})
	unlock, err := other.LockToken(bg, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	waitErr := make(chan error)
	go func() { _, err := s.LockToken(bg, "k"); waitErr <- err }() // starts s's subscription
	time.Sleep(30 * time.Millisecond)
	s.Close()
	s.Close()
	select {
	case err := <-waitErr:
		if !errors.Is(err, apiauth.ErrClosed) {
			t.Errorf("waiting LockToken after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting LockToken not ended by Close")
	}
	if _, err := s.LoadToken(bg, "k"); !errors.Is(err, apiauth.ErrClosed) {
		t.Errorf("LoadToken after Close = %v, want ErrClosed", err)
	}
	if err := s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "a"}); !errors.Is(err, apiauth.ErrClosed) {
		t.Errorf("StoreToken after Close = %v, want ErrClosed", err)
	}
}

// With Redis killed, every method fails, within its OpTimeout rather than
// go-redis' own multi-second timeouts; once Redis is back, the same store
// works again.
func TestStoreRedisDown(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	s := newStore(t, srv, redisstore.TokenOptions{OpTimeout: 100 * time.Millisecond})
	if err := s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	bounded(t, 3*time.Second, "calls with Redis down", func() {
		if _, err := s.LoadToken(bg, "k"); err == nil {
			t.Error("LoadToken succeeded with Redis down")
		}
		if err := s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "b"}); err == nil {
			t.Error("StoreToken succeeded with Redis down")
		}
		if _, err := s.LockToken(bg, "k"); err == nil {
			t.Error("LockToken succeeded with Redis down")
		}
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "store works after restart", func() bool {
		return s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "c"}) == nil
	})
	if tok, err := s.LoadToken(bg, "k"); err != nil || tok.AccessToken != "c" {
		t.Errorf("LoadToken after restart = %v, %v", tok, err)
	}
}

// A Redis that accepts connections but does not answer (paused) makes
// every method fail within OpTimeout, although the client's own read
// timeout is a minute.
func TestStoreRedisUnresponsive(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	opts := redistest.ClientOptions(srv)
	opts.ReadTimeout, opts.WriteTimeout, opts.DialTimeout = time.Minute, time.Minute, time.Minute
	client := redis.NewClient(opts)
	defer client.Close()
	s, err := redisstore.NewTokenStore(client, &redisstore.TokenOptions{Prefix: testPrefix(t), OpTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := srv.Pause(); err != nil {
		t.Skip(err)
	}
	defer srv.Resume()
	bounded(t, 10*time.Second, "calls with Redis paused", func() {
		if _, err := s.LoadToken(bg, "k"); err == nil {
			t.Error("LoadToken succeeded with Redis paused")
		}
		if err := s.StoreToken(bg, "k", &apiauth.Token{AccessToken: "a"}); err == nil {
			t.Error("StoreToken succeeded with Redis paused")
		}
		if _, err := s.LockToken(bg, "k"); err == nil {
			t.Error("LockToken succeeded with Redis paused")
		}
	})
}

func TestZeroTokenStoreFails(t *testing.T) {
	var s redisstore.TokenStore
	ctx := ctxFor(t)
	if _, err := s.LoadToken(ctx, "k"); err == nil {
		t.Error("LoadToken on a zero TokenStore succeeded")
	}
	if err := s.StoreToken(ctx, "k", &apiauth.Token{AccessToken: "a"}); err == nil {
		t.Error("StoreToken on a zero TokenStore succeeded")
	}
	if _, err := s.LockToken(ctx, "k"); err == nil {
		t.Error("LockToken on a zero TokenStore succeeded")
	}
	s.Close()
}
