package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

const storeKey = "audimodal:" + apiauthtest.AudiModalEmail

// newLoginCache returns a token cache in front of an AudiModal login to
// fake, sharing tokens through store; it is closed in t.Cleanup.
func newLoginCache(t *testing.T, fake *apiauthtest.Server, store apiauth.TokenStore, opts apiauth.CacheOptions) *apiauth.TokenCache {
	t.Helper()
	src, err := apiauth.NewLoginSource(fake.URL(apiauthtest.AudiModal),
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID},
		&apiauth.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.StoreKey = store, storeKey
	c := apiauth.NewTokenCache(src, &opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// Eight caches, each with its own Redis client and store as eight
// processes would have, asking for a token at once: one login between
// them, and every cache gets the same token.
func TestCachesShareOneLogin(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	fake := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer fake.Close()
	var caches []*apiauth.TokenCache
	for range 8 {
		caches = append(caches, newLoginCache(t, fake, newStore(t, srv, redisstore.TokenOptions{}), apiauth.CacheOptions{}))
	}
	toks := make([]string, len(caches))
	var wg sync.WaitGroup
	for i, c := range caches {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(bg, 10*time.Second)
			defer cancel()
			tok, err := c.Token(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = tok.AccessToken
		})
	}
	wg.Wait()
	for i := range toks {
		if toks[i] != toks[0] {
			t.Fatalf("cache %d got another token than cache 0", i)
		}
	}
	if st := fake.Stats().AudiModal; st.Logins != 1 || st.TokensIssued != 1 {
		t.Errorf("logins = %d, tokens issued = %d; want 1 and 1", st.Logins, st.TokensIssued)
	}
}

// syncBuffer is a bytes.Buffer safe for the cache's logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) count(s string) int { return strings.Count(b.String(), s) }

// Redis dies while the cache is in use: every request keeps succeeding
// with a valid token (the cache refreshes locally, with the refresh token it
// holds, and logs the outage once); when Redis is back, the cache stores
// its tokens there again and a new process adopts them without a login.
func TestCacheSurvivesRedisRestart(t *testing.T) {
	bg := ctxFor(t)
	srv := redistest.Start(t)
	fake := apiauthtest.Start(apiauthtest.Config{
		PlainHTTP: true, AudiModalTokenTTL: 2 * time.Second,
		AudiModalRateLimit: apiauthtest.RateLimit{Limit: 1 << 20}, // the test polls with requests
	})
	defer fake.Close()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := newStore(t, srv, redisstore.TokenOptions{OpTimeout: 100 * time.Millisecond})
	cache := newLoginCache(t, fake, store, apiauth.CacheOptions{Logger: logger})

	api, err := apiauth.NewClient(fake.URL(apiauthtest.AudiModal), cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	// token makes a request through the cache and returns the cache's
	// token; both must succeed.
	token := func() *apiauth.Token {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		if _, err := api.Get(ctx, "v1/health", nil); err != nil {
			t.Fatalf("GET /v1/health: %v", err)
		}
		tok, err := cache.Token(ctx)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if !time.Now().Before(tok.Expiry) {
			t.Fatalf("Token returned a token expired at %v", tok.Expiry)
		}
		return tok
	}
	first := token()
	if st, err := store.LoadToken(bg, storeKey); err != nil || st.AccessToken != first.AccessToken {
		t.Fatalf("token not shared in Redis: %v", err)
	}

	srv.Kill()
	// Two local refreshes with Redis down (each token lives 2 s and is
	// renewed 0.5 s before its expiry).
	start := fake.Stats().AudiModal.Refreshes
	eventually(t, 15*time.Second, "two refreshes with Redis down", func() bool {
		token()
		return fake.Stats().AudiModal.Refreshes >= start+2
	})
	if n := logs.count("token store unavailable"); n != 1 {
		t.Errorf("store outage logged %d times, want once", n)
	}
	if l := logs.String(); strings.Contains(l, first.AccessToken) || strings.Contains(l, first.RefreshToken) {
		t.Error("a token appears in the logs")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	var current *apiauth.Token
	eventually(t, 15*time.Second, "token shared again after Redis restarts", func() bool {
		current = token()
		st, err := store.LoadToken(bg, storeKey)
		return err == nil && st != nil && st.AccessToken == current.AccessToken &&
			logs.count("token store available again") > 0
	})
	if n := logs.count("token store available again"); n != 1 {
		t.Errorf("store recovery logged %d times, want once", n)
	}

	// A process started now adopts the shared token: no login, no refresh.
	before := fake.Stats().AudiModal
	newcomer := newLoginCache(t, fake, newStore(t, srv, redisstore.TokenOptions{}), apiauth.CacheOptions{})
	got, err := newcomer.Token(bg)
	if err != nil {
		t.Fatal(err)
	}
	after := fake.Stats().AudiModal
	if after.Logins != before.Logins || after.Refreshes != before.Refreshes {
		t.Errorf("the newcomer made %d logins and %d refreshes; want it to adopt the shared token",
			after.Logins-before.Logins, after.Refreshes-before.Refreshes)
	}
	if got.AccessToken != current.AccessToken && got.AccessToken != token().AccessToken {
		t.Error("the newcomer got another token than the running cache")
	}
	if st := fake.Stats().AudiModal; st.Logins != 1 || st.RefreshRejections != 0 {
		t.Errorf("logins = %d, rejected refresh tokens = %d; want 1 and 0 throughout", st.Logins, st.RefreshRejections)
	}
}
