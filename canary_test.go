package apiauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/transport"
)

// canaryBuffer is a log sink safe for concurrent writes.
type canaryBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *canaryBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *canaryBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// canaryRun collects everything a user of the SDK could print: errors,
// returned values, and the tokens the SDK obtained.
type canaryRun struct {
	t      *testing.T
	mu     sync.Mutex
	errs   []error
	values []any
	tokens []string // access and refresh tokens issued to us: secrets too
}

func (r *canaryRun) err(what string, err error) {
	r.t.Helper()
	if err == nil {
		r.t.Fatalf("%s: want an error, got none", what)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *canaryRun) ok(what string, err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
}

func (r *canaryRun) keep(vs ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, vs...)
}

func (r *canaryRun) token(tok *apiauth.Token) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, tok, *tok)
	for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
		if s != "" {
			r.tokens = append(r.tokens, s)
		}
	}
}

// canaryForms renders v every way a user might print or log it.
func canaryForms(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	if j, err := json.Marshal(v); err == nil {
		b.Write(j)
	}
	slog.New(slog.NewTextHandler(&b, nil)).Info("value", "v", v)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("value", "v", v)
	return b.String()
}

// TestSecretCanaries drives every family through the whole stack with
// canary credentials (each containing "CANARY"): successes, retries after
// 503s, resets and 429s, 401s that force token refreshes, rotating refresh
// tokens, failed refreshes, wrong passwords, revoked and expired
// credentials, tenant overrides refused, insecure URLs, a closed cache, all
// with log/slog at debug level. No canary, and no token the SDK obtained,
// may appear in any error string, in any printed form of any returned
// value, or in any log line.
func TestSecretCanaries(t *testing.T) {
	var rnd [12]byte
	rand.Read(rnd[:])
	salt := hex.EncodeToString(rnd[:])
	var (
		artosUser     = "CANARY-artos-user-" + salt
		artanisKey    = "CANARY-artanis-" + salt
		voltasisKey   = "CANARY-voltasis-" + salt
		audiKey       = "sk_live_CANARY" + salt
		audiPassword  = "CANARY-password-" + salt
		wrongPassword = "CANARY-wrong-" + salt
		canaryEmail   = "canary@example.com"
	)

	logs := &canaryBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	run := &canaryRun{t: t}
	ctx := context.Background()

	fk := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer fk.Close()
	fk.AddArtosUser(artosUser, apiauthtest.ArtosOrgID)
	fk.AddArtanisKey(artanisKey, apiauthtest.ArtanisOrgSlug, apiauthtest.ArtanisSecondOrgSlug)
	vid := fk.AddVoltasisKey(apiauthtest.VoltasisKey{Secret: voltasisKey, UserID: "usr_canary", Email: "v@example.com",
		OrgID: apiauthtest.VoltasisOrgID, Scopes: []string{apiauthtest.VoltasisReadUsersScope}})
	fk.AddAudiModalKey(audiKey, apiauthtest.AudiModalTenantID, true)
	fk.AddAudiModalUser(apiauthtest.AudiModalUser{ID: "user_canary", Email: canaryEmail, Password: audiPassword,
		Role: "admin", TenantID: apiauthtest.AudiModalTenantID})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	fast := func() transport.RetryOptions {
		// Fast backoff; a server wait past 10 ms is returned, not slept.
		return transport.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxWait: 10 * time.Millisecond}
	}
	client := func(f apiauthtest.Family, cred transport.Credential, o apiauth.ClientOptions) *apiauth.Client {
		t.Helper()
		o.Base, o.Logger, o.Retry = tr, logger, fast()
		c, err := apiauth.NewClient(fk.URL(f), cred, &o)
		run.ok("NewClient", err)
		run.keep(c)
		return c
	}
	cacheOpts := func() *apiauth.CacheOptions {
		return &apiauth.CacheOptions{Logger: logger, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
			OnToken: run.token}
	}

	// Artos: a JWT from the token endpoint, refreshed after 401s; retries
	// after 503s, a reset and a 429; a refresh that fails; an unknown user.
	src, err := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", artosUser, &apiauth.SourceOptions{HTTPClient: hc})
	run.ok("NewTokenEndpoint", err)
	artosCache := apiauth.NewTokenCache(src, cacheOpts())
	defer artosCache.Close()
	artos := client(apiauthtest.Artos, artosCache, apiauth.ClientOptions{})
	run.keep(src, artosCache)
	get := func(c *apiauth.Client, ctx context.Context, path string) error {
		var out any
		resp, err := c.Get(ctx, path, &out)
		run.keep(resp)
		return err
	}
	run.ok("artos documents", get(artos, ctx, "api/v1/documents/"))
	fk.FailRequests(1, apiauthtest.Fault{Status: 401})
	run.ok("artos after a 401", get(artos, ctx, "api/v1/documents/"))
	fk.FailRequests(3, apiauthtest.Fault{Status: 503})
	run.ok("artos after 503s", get(artos, ctx, "api/v1/documents/"))
	fk.FailRequests(1, apiauthtest.Fault{ResetConnection: true})
	run.ok("artos after a reset", get(artos, ctx, "api/v1/templates/"))
	fk.FailRequests(1, apiauthtest.Fault{Status: 429})
	run.ok("artos after a 429", get(artos, ctx, "api/v1/templates/"))
	run.ok("artos redirect", get(artos, ctx, "api/v1/documents"))
	tok, err := artosCache.Token(ctx)
	run.ok("artos token", err)
	fk.FailTokenRequests(1, apiauthtest.Fault{Status: 500})
	artosCache.Invalidate(tok)
	run.err("artos refresh failing", get(artos, ctx, "api/v1/documents/"))
	time.Sleep(5 * time.Millisecond) // past the refresh backoff
	fk.FailTokenRequests(1, apiauthtest.Fault{MalformedJSON: true})
	tok, _ = artosCache.Token(ctx)
	if tok != nil {
		artosCache.Invalidate(tok)
	}
	run.err("artos malformed token answer", get(artos, ctx, "api/v1/documents/"))
	time.Sleep(5 * time.Millisecond)
	run.ok("artos recovered", get(artos, ctx, "api/v1/documents/"))
	unknown, _ := apiauth.NewTokenEndpoint(fk.URL(apiauthtest.Artos)+"/get-access-token", "CANARY-unknown-"+salt, &apiauth.SourceOptions{HTTPClient: hc})
	_, err = unknown.Token(ctx)
	run.err("artos unknown user", err)
	run.keep(unknown)
	fk.FailRequests(1, apiauthtest.Fault{Hang: true})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	run.err("artos hang", get(artos, short, "api/v1/documents/"))
	cancel()

	// Artanis: the header pair, the org switched per request, a foreign org,
	// a reset.
	pair, err := apiauth.NewHeaderPair(artanisKey, apiauthtest.ArtanisOrgSlug)
	run.ok("NewHeaderPair", err)
	run.keep(pair)
	artanis := client(apiauthtest.Artanis, pair, apiauth.ClientOptions{TenantHeader: "X-Org-Slug"})
	run.ok("artanis prompts", get(artanis, ctx, "api/prompts?projectSlug="+apiauthtest.ArtanisProjectSlug))
	run.ok("artanis second org", get(artanis, apiauth.WithTenant(ctx, apiauthtest.ArtanisSecondOrgSlug), "api/prompts?projectSlug="+apiauthtest.ArtanisSecondProjectSlug))
	run.err("artanis foreign org", get(artanis, apiauth.WithTenant(ctx, apiauthtest.ArtanisForeignOrgSlug), "api/prompts?projectSlug="+apiauthtest.ArtanisForeignProjectSlug))
	run.err("artanis invalid tenant", get(artanis, apiauth.WithTenant(ctx, "bad slug\n"), "api/prompts?projectSlug=x"))
	fk.FailRequests(1, apiauthtest.Fault{ResetConnection: true})
	run.ok("artanis after a reset", get(artanis, ctx, "api/prompts?projectSlug="+apiauthtest.ArtanisProjectSlug))
	badPair, _ := apiauth.NewHeaderPair("CANARY-badkey-"+salt, apiauthtest.ArtanisOrgSlug)
	run.err("artanis unknown key", get(client(apiauthtest.Artanis, badPair, apiauth.ClientOptions{}), ctx, "api/prompts?projectSlug="+apiauthtest.ArtanisProjectSlug))

	// Voltasis: a bearer key, an override refused, a key created, the
	// canary key revoked.
	vkey, err := apiauth.NewStaticToken(voltasisKey)
	run.ok("NewStaticToken", err)
	run.keep(vkey)
	voltasis := client(apiauthtest.Voltasis, vkey, apiauth.ClientOptions{TenantHeader: "X-Organization-ID"})
	run.ok("voltasis me", get(voltasis, ctx, "v1/auth/me"))
	run.ok("voltasis users", get(voltasis, ctx, "v1/users"))
	run.err("voltasis override refused", get(voltasis, apiauth.WithTenant(ctx, apiauthtest.VoltasisOtherOrgID), "v1/auth/me"))
	fk.FailRequests(1, apiauthtest.Fault{Status: 503, RetryAfter: time.Second})
	run.err("voltasis 503 past MaxWait", get(voltasis, ctx, "v1/auth/me"))
	admin, _ := apiauth.NewStaticToken(apiauthtest.VoltasisAdminKey)
	vadmin := client(apiauthtest.Voltasis, admin, apiauth.ClientOptions{})
	resp, err := vadmin.Post(ctx, "api/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{apiauthtest.VoltasisReadUsersScope}}, nil)
	run.ok("voltasis create key", err)
	run.keep(resp)
	resp, err = vadmin.Delete(ctx, "api/v1/api-keys/"+vid, nil)
	run.ok("voltasis revoke", err)
	run.keep(resp)
	run.err("voltasis revoked key", get(voltasis, ctx, "v1/auth/me"))

	// AudiModal: an admin key with a tenant override, a 429 past MaxWait; a
	// login with rotating refresh tokens, a rejected refresh token, a wrong
	// password, an expired token.
	akey, err := apiauth.ParseAPIKey(audiKey)
	run.ok("ParseAPIKey", err)
	run.keep(akey)
	audimodal := client(apiauthtest.AudiModal, akey, apiauth.ClientOptions{TenantHeader: "X-Tenant-ID"})
	run.ok("audimodal files", get(audimodal, ctx, "v1/files"))
	run.ok("audimodal other tenant", get(audimodal, apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID), "v1/files"))
	fk.SetAudiModalRateLimit(apiauthtest.RateLimit{Limit: 1, Window: time.Hour})
	_ = get(audimodal, ctx, "v1/files") // may take the window's only slot
	run.err("audimodal 429", get(audimodal, ctx, "v1/files"))
	fk.SetAudiModalRateLimit(apiauthtest.RateLimit{})

	login := apiauth.Login{Email: canaryEmail, Password: audiPassword, TenantID: apiauthtest.AudiModalTenantID}
	ls, err := apiauth.NewLoginSource(fk.URL(apiauthtest.AudiModal), login, &apiauth.SourceOptions{HTTPClient: hc})
	run.ok("NewLoginSource", err)
	sessions := apiauth.NewTokenCache(ls, cacheOpts())
	defer sessions.Close()
	run.keep(login, ls, sessions)
	am := client(apiauthtest.AudiModal, sessions, apiauth.ClientOptions{})
	run.ok("audimodal session", get(am, ctx, "v1/files"))
	for range 3 { // each 401 renews with the refresh token, which rotates
		fk.FailRequests(1, apiauthtest.Fault{Status: 401})
		run.ok("audimodal after a 401", get(am, ctx, "v1/files"))
	}
	fk.FailRequests(1, apiauthtest.Fault{Status: 401})
	fk.FailTokenRequests(1, apiauthtest.Fault{Status: 401}) // the refresh is rejected: log in again
	run.ok("audimodal refresh rejected", get(am, ctx, "v1/files"))
	if st := fk.Stats().AudiModal; st.Refreshes < 3 || st.Logins < 2 {
		t.Errorf("AudiModal stats %+v: want refreshes and a second login", st)
	}
	wrong, _ := apiauth.NewLoginSource(fk.URL(apiauthtest.AudiModal),
		apiauth.Login{Email: canaryEmail, Password: wrongPassword, TenantID: apiauthtest.AudiModalTenantID}, &apiauth.SourceOptions{HTTPClient: hc})
	wrongCache := apiauth.NewTokenCache(wrong, cacheOpts())
	defer wrongCache.Close()
	run.keep(wrong, wrongCache)
	run.err("audimodal wrong password", get(client(apiauthtest.AudiModal, wrongCache, apiauth.ClientOptions{}), ctx, "v1/files"))
	expired, _ := apiauth.NewStaticToken(fk.MintAudiModalToken(canaryEmail, -time.Minute))
	run.mu.Lock()
	run.tokens = append(run.tokens, expired.Secret())
	run.mu.Unlock()
	run.err("audimodal expired token", get(client(apiauthtest.AudiModal, expired, apiauth.ClientOptions{}), ctx, "v1/files"))
	if st, err := sessions.Token(ctx); err == nil {
		run.token(st)
	}

	// Refused before sending: plain http to a remote host, a closed cache.
	_, err = apiauth.NewClient("http://api.audimodal.example/v1?api_key="+audiKey, akey, &apiauth.ClientOptions{Logger: logger})
	run.err("insecure base URL", err)
	artosCache.Close()
	run.err("closed cache", get(artos, ctx, "api/v1/documents/"))
	_, err = apiauth.ParseAPIKey("CANARY" + salt + " with space")
	run.err("bad key", err)

	// Every printed form of everything.
	// A refresh ahead may still be running and report its token through
	// OnToken (run.token): read what was collected under the lock.
	run.mu.Lock()
	defer run.mu.Unlock()
	var everything strings.Builder
	everything.WriteString(logs.String())
	for _, err := range run.errs {
		everything.WriteString(canaryForms(err))
		everything.WriteString(err.Error())
	}
	for _, v := range run.values {
		everything.WriteString(canaryForms(v))
	}
	all := everything.String()
	if n := strings.Count(logs.String(), "\n"); n < 20 {
		t.Errorf("only %d log lines: the run did not exercise the layers' logging", n)
	}
	for _, want := range []string{"retrying request", "token refreshed", "token refresh failed", "401: retrying once"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q log line", want)
		}
	}
	if len(run.tokens) < 8 {
		t.Errorf("only %d tokens issued: the run did not refresh enough", len(run.tokens))
	}
	for _, enc := range []string{hex.EncodeToString([]byte("CANARY")), strings.ToUpper(hex.EncodeToString([]byte("CANARY")))} {
		if strings.Contains(all, enc) {
			t.Errorf("a hex-encoded canary shows")
		}
	}
	for i := 0; ; {
		j := strings.Index(all[i:], "CANARY")
		if j < 0 {
			break
		}
		j += i
		t.Errorf("a canary shows: ...%s...", all[max(0, j-120):min(len(all), j+60)])
		i = j + 1
		if i >= len(all) {
			break
		}
	}
	for _, tok := range run.tokens {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(all, tok) || (len(sig) >= 16 && strings.Contains(all, sig)) {
			t.Errorf("an issued token shows (signature %s...)", sig[:min(8, len(sig))])
		}
	}
	t.Logf("%d errors, %d values, %d tokens, %d log lines checked", len(run.errs), len(run.values), len(run.tokens), strings.Count(logs.String(), "\n"))
	if testing.Verbose() {
		t.Logf("log:\n%s", logs)
	}
}
