package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

// newStore returns a store with its own client on srv (as another process
// would have), both closed in t.Cleanup. A zero opts.Prefix becomes one
// unique to the test.
func newStore(t *testing.T, srv *redistest.Server, opts redisstore.TokenOptions) *redisstore.TokenStore {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	client := redistest.NewClient(t, srv)
	s, err := redisstore.NewTokenStore(client, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testPrefix(t testing.TB) string {
	return "test:" + strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":"
}

// redisKey is the documented key layout: prefix + "{" + hex SHA-256 of the
// store key + "}:" + kind.
func redisKey(prefix, storeKey, kind string) string {
	sum := sha256.Sum256([]byte(storeKey))
	return prefix + "{" + hex.EncodeToString(sum[:]) + "}:" + kind
}

// bounded runs fn and fails the test if it has not returned within d: the
// calls under test must end by themselves, bounded by their own timeouts.
func bounded(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawClient returns a client for inspecting Redis directly.
func rawClient(t *testing.T, srv *redistest.Server) *redis.Client {
	t.Helper()
	return redistest.NewClient(t, srv)
}

// ctxFor returns a context for the calls of one test: it ends with the
// test, and after 30 s at the latest, so that no call can hang a test run.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
