// Command fleet shows apiauth's fleet mode: three replicas of a service
// share one AudiModal login through Redis, so the fleet logs in once and
// refreshes once per token expiry; then Redis is killed (the replicas keep
// serving, each refreshing on its own) and restarted (they converge on one
// shared token again).
//
// It runs offline: it starts a redis-server of its own on a free loopback
// port (keeping nothing on disk) and uses the built-in fake AudiModal
// (apiauthtest) with 2-second tokens.
//
//	go run ./examples/fleet
//
// Without a redis-server binary (apt-get install redis-server) it says so
// and exits with status 0.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/internal/redistest"
	"github.com/apiauth/apiauth/redisstore"
)

func main() {
	if _, err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// phase is what the fake AudiModal saw during one phase of the run.
type phase struct {
	Requests, Failed            int
	Logins, Refreshes, Rejected int64
	TokensInUse                 int // distinct tokens the replicas held at the end
}

// replica is what each process of a service builds: its own Redis client,
// token store, login source, token cache and API client.
type replica struct {
	redis *redis.Client
	store *redisstore.TokenStore
	cache *apiauth.TokenCache
	api   *apiauth.Client
}

func newReplica(name, redisAddr, baseURL string, log io.Writer, level slog.Leveler) (*replica, error) {
	r := &replica{redis: redis.NewClient(&redis.Options{
		Addr:                  redisAddr,
		ContextTimeoutEnabled: true, // required: the store bounds every command (200 ms by default)
	})}
	var err error
	r.store, err = redisstore.NewTokenStore(r.redis, &redisstore.TokenOptions{Prefix: "fleet-example:apiauth:"})
	if err != nil {
		r.redis.Close()
		return nil, err
	}
	src, err := apiauth.NewLoginSource(baseURL,
		apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID},
		nil)
	if err != nil {
		r.Close()
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("replica", name)
	r.cache = apiauth.NewTokenCache(src, &apiauth.CacheOptions{
		Store:    r.store,
		StoreKey: "audimodal:" + apiauthtest.AudiModalEmail, // names the credential; never a secret
		Logger:   logger,                                    // store outages are logged once, at warn level
	})
	r.api, err = apiauth.NewClient(baseURL, r.cache, nil)
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the cache first, then the store, then the client.
func (r *replica) Close() {
	if r.cache != nil {
		r.cache.Close()
	}
	if r.store != nil {
		r.store.Close()
	}
	r.redis.Close()
}

// quietRedis drops go-redis' own log lines (dial failures while Redis is
// down): the token caches already report the outage, once each.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// lockedWriter serializes the writes of the replicas' loggers and ours.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(out io.Writer) ([]phase, error) {
	w := &lockedWriter{w: out}
	srv, err := redistest.Launch()
	if errors.Is(err, redistest.ErrNoBinary) {
		fmt.Fprintln(w, "fleet: this example starts a throwaway redis-server, and none was found.")
		fmt.Fprintln(w, "Install one (for example `apt-get install redis-server`) or set "+redistest.EnvBinary+" to its path.")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	redis.SetLogger(quietRedis{})

	fake := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, AudiModalTokenTTL: 2 * time.Second})
	defer fake.Close()
	base := fake.URL(apiauthtest.AudiModal)
	fmt.Fprintf(w, "redis-server on %s; fake AudiModal at %s, tokens live 2 s\n", srv.Addr, base)

	var level slog.LevelVar // info: store outages (warn) and recoveries (info)
	var replicas []*replica
	defer func() {
		// Closing a cache cancels a refresh in flight, which it reports as
		// a store failure: keep that out of the demonstration.
		level.Set(slog.LevelError)
		for _, r := range replicas {
			r.Close()
		}
	}()
	for i := range 3 {
		r, err := newReplica(fmt.Sprint(i+1), srv.Addr, base, w, &level)
		if err != nil {
			return nil, err
		}
		replicas = append(replicas, r)
	}

	var phases []phase
	serve := func(title string, d time.Duration) {
		fmt.Fprintf(w, "\n%s\n", title)
		p := serveFor(replicas, fake, d)
		phases = append(phases, p)
		fmt.Fprintf(w, "   %d requests, %d failed; logins %d, refreshes %d, refresh tokens rejected %d; replicas now hold %d distinct token(s)\n",
			p.Requests, p.Failed, p.Logins, p.Refreshes, p.Rejected, p.TokensInUse)
	}

	serve("1. Three replicas call GET /v1/health for 4.5 s: one login, then one refresh per expiry for the whole fleet", 4500*time.Millisecond)

	srv.Kill()
	serve("2. Redis is killed: every request still succeeds, each replica refreshing on its own\n"+
		"   (their shared single-use refresh token is spent by the first; the others log in again)", 3*time.Second)

	if err := srv.Restart(); err != nil {
		return nil, err
	}
	serve("3. Redis is back (empty): at the next expiry the replicas converge on one shared token", 3*time.Second)
	return phases, nil
}

// serveFor has every replica call the API every 200 ms for d.
func serveFor(replicas []*replica, fake *apiauthtest.Server, d time.Duration) phase {
	before := fake.Stats().AudiModal
	var (
		mu sync.Mutex
		p  phase
		wg sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for _, r := range replicas {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := r.api.Get(ctx, "v1/health", nil)
				cancel()
				mu.Lock()
				p.Requests++
				if err != nil {
					p.Failed++
				}
				mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	after := fake.Stats().AudiModal
	p.Logins = after.Logins - before.Logins
	p.Refreshes = after.Refreshes - before.Refreshes
	p.Rejected = after.RefreshRejections - before.RefreshRejections
	p.TokensInUse = tokensInUse(replicas)
	return p
}

// tokensInUse counts the distinct tokens the replicas hold. A count above
// one is checked again a few times over 200 ms: the replicas adopt a new
// shared token within milliseconds of each other, not at the same instant.
func tokensInUse(replicas []*replica) int {
	n := 0
	for range 5 {
		distinct := map[[32]byte]bool{}
		for _, r := range replicas {
			if tok, err := r.cache.Token(context.Background()); err == nil {
				distinct[sha256.Sum256([]byte(tok.AccessToken))] = true
			}
		}
		if n = len(distinct); n <= 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}
