package apiauth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/transport"
)

// echoStyles are the ways the echo server puts a credential in an error
// body: FastAPI's detail, the error envelope, OAuth2's pair, plain text.
var echoStyles = []string{"detail", "envelope", "oauth2", "plain"}

// echoBody writes an error answer of status that repeats every secret in
// echoed, in the given style.
func echoBody(w http.ResponseWriter, status int, style string, echoed []string) {
	msg := "rejected credential " + strings.Join(echoed, " and ") + " for this request"
	var body []byte
	switch style {
	case "detail":
		body, _ = json.Marshal(map[string]any{"detail": msg})
	case "envelope":
		body, _ = json.Marshal(map[string]any{"error": map[string]any{
			"code": "INVALID_API_KEY", "message": msg, "required_role": echoed[0]}})
	case "oauth2":
		body, _ = json.Marshal(map[string]any{"error": "invalid_grant", "error_description": msg})
	default:
		w.Header().Set("Content-Type", "text/plain")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		io.WriteString(w, msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", echoed[0])
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1") // past MaxWait: returned at once
	}
	w.WriteHeader(status)
	w.Write(body)
}

// echoServer answers API requests with an error that echoes the credential
// headers it received, and token requests with a token (when tokenOK) or
// an error that echoes the secrets of the token request's body.
type echoServer struct {
	*httptest.Server
	status  atomic.Int64
	style   atomic.Value // string
	tokenOK atomic.Bool
	issued  atomic.Int64
	// tokens the server issues.
	access, refresh string
}

func newEchoServer(t *testing.T, access, refresh string) *echoServer {
	s := &echoServer{access: access, refresh: refresh}
	s.status.Store(403)
	s.style.Store("detail")
	s.tokenOK.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, style := int(s.status.Load()), s.style.Load().(string)
		if fltIsToken(r.URL.Path) {
			if s.tokenOK.Load() {
				w.Header().Set("Content-Type", "application/json")
				n := s.issued.Add(1) // a new token each time: a 401 renews it
				json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprint(s.access, "-", n), "refresh_token": fmt.Sprint(s.refresh, "-", n),
					"token_type": "bearer", "expires_in": 3600})
				return
			}
			var in map[string]string
			json.NewDecoder(r.Body).Decode(&in)
			var echoed []string
			for _, k := range []string{"user_id", "password", "refresh_token"} {
				if in[k] != "" {
					echoed = append(echoed, in[k])
				}
			}
			if len(echoed) == 0 {
				echoed = []string{"nothing"}
			}
			echoBody(w, status, style, echoed)
			return
		}
		var echoed []string
		for _, name := range []string{"Authorization", "X-Api-Key"} {
			if v := r.Header.Get(name); v != "" {
				echoed = append(echoed, v)
				if i := strings.IndexByte(v, ' '); i > 0 {
					echoed = append(echoed, v[i+1:]) // the bare token as well
				}
			}
		}
		if len(echoed) == 0 {
			echoed = []string{"nothing"}
		}
		echoBody(w, status, style, echoed)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestSecretCanariesEchoed drives every family against servers that repeat
// the credential back in their error answers (issue 13 row 3): the API's
// error bodies echo the credential headers (JSON and plain text, under 400,
// 401, 403, 422, 429 and 500), the token endpoints' error bodies echo the user
// id, the login password and the refresh token. No canary may appear in any
// error under any fmt verb, in the fields of an *apiauth.Error, or in any log
// line.
func TestSecretCanariesEchoed(t *testing.T) {
	var rnd [12]byte
	rand.Read(rnd[:])
	salt := hex.EncodeToString(rnd[:])
	var (
		artosUser     = "CANARY-artos-user-" + salt
		artosToken    = "CANARY-artos-token-" + salt
		artanisKey    = "CANARY-artanis-" + salt
		voltasisKey   = "CANARY-voltasis-" + salt
		audiKey       = "sk_live_CANARY" + salt
		audiPassword  = "CANARY-password-" + salt
		audiAccess    = "CANARY-audi-access-" + salt
		audiRefresh   = "CANARY-audi-refresh-" + salt
		canaryEmailAd = "canary@example.com"
	)
	logs := &canaryBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var errs []error
	collect := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: want an error, got none", what)
		}
		errs = append(errs, err)
	}
	newClient := func(base string, cred transport.Credential) *apiauth.Client {
		c, err := apiauth.NewClient(base, cred, &apiauth.ClientOptions{Base: tr, Logger: logger,
			Retry: transport.RetryOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxWait: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cacheOpts := &apiauth.CacheOptions{Logger: logger, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

	// apiRound sends one request per status and style through c.
	// Each request has a client of its own: a 429 must not make the next
	// request's client refuse locally instead of asking the server.
	apiRound := func(name string, s *echoServer, cred transport.Credential) {
		for _, status := range []int{400, 401, 403, 422, 429, 500} {
			for _, style := range echoStyles {
				s.status.Store(int64(status))
				s.style.Store(style)
				_, err := newClient(s.URL, cred).Get(ctx, "v1/files", nil)
				collect(fmt.Sprintf("%s %d %s", name, status, style), err)
				if style == "detail" && status != 429 && !strings.Contains(err.Error(), "[REDACTED]") {
					t.Errorf("%s %d: the server's echo was not redacted, or not received: %v", name, status, err)
				}
			}
		}
	}
	// tokenRound makes the token endpoint fail with every style, through
	// the source itself and through a cache in front of a client.
	tokenRound := func(name string, s *echoServer, src apiauth.TokenSource) {
		s.tokenOK.Store(false)
		defer s.tokenOK.Store(true)
		for _, status := range []int{400, 401, 403, 500} {
			for _, style := range echoStyles {
				s.status.Store(int64(status))
				s.style.Store(style)
				_, err := src.Token(ctx)
				collect(fmt.Sprintf("%s token %d %s", name, status, style), err)
				if style == "detail" && !strings.Contains(err.Error(), "[REDACTED]") {
					t.Errorf("%s token %d: the server's echo was not redacted, or not received: %v", name, status, err)
				}
				cache := apiauth.NewTokenCache(src, cacheOpts)
				_, err = newClient(s.URL, cache).Get(ctx, "v1/files", nil)
				collect(fmt.Sprintf("%s cached token %d %s", name, status, style), err)
				cache.Close()
			}
		}
	}

	// Artos: the user id goes to the token endpoint, the token to the API.
	artosSrv := newEchoServer(t, artosToken, "")
	artosSrc, err := apiauth.NewTokenEndpoint(artosSrv.URL+"/get-access-token", artosUser, &apiauth.SourceOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	artosCache := apiauth.NewTokenCache(artosSrc, cacheOpts)
	defer artosCache.Close()
	apiRound("artos", artosSrv, artosCache)
	tokenRound("artos", artosSrv, artosSrc)

	// Artanis: x-api-key.
	artanisSrv := newEchoServer(t, "", "")
	pair, err := apiauth.NewHeaderPair(artanisKey, "canary-org")
	if err != nil {
		t.Fatal(err)
	}
	apiRound("artanis", artanisSrv, pair)

	// Voltasis: a bearer key.
	voltasisSrv := newEchoServer(t, "", "")
	apiRound("voltasis", voltasisSrv, fltStatic(t, voltasisKey))

	// AudiModal: an API key; a login whose password and refresh token the
	// server echoes; the client's own Login and Refresh.
	audiSrv := newEchoServer(t, audiAccess, audiRefresh)
	apiRound("audimodal key", audiSrv, fltKey(t, audiKey))
	login := apiauth.Login{Email: canaryEmailAd, Password: audiPassword, TenantID: "tenant_canary"}
	ls, err := apiauth.NewLoginSource(audiSrv.URL, login, &apiauth.SourceOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	sessions := apiauth.NewTokenCache(ls, cacheOpts)
	defer sessions.Close()
	apiRound("audimodal session", audiSrv, sessions)
	tokenRound("audimodal login", audiSrv, ls)
	audiSrv.tokenOK.Store(false)
	for _, style := range echoStyles {
		audiSrv.style.Store(style)
		audiSrv.status.Store(401)
		_, err := ls.RenewToken(ctx, &apiauth.Token{AccessToken: audiAccess, RefreshToken: "CANARY-other-refresh-" + style + salt})
		collect("audimodal refresh "+style, err)
		am := audimodal.Client{Client: newClient(audiSrv.URL, nil)}
		_, err = am.Login(ctx, login)
		collect("audimodal client login "+style, err)
		_, err = am.Refresh(ctx, audiRefresh)
		collect("audimodal client refresh "+style, err)
	}
	audiSrv.tokenOK.Store(true)

	var everything strings.Builder
	everything.WriteString(logs.String())
	for _, err := range errs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			fmt.Fprintf(&everything, verb+"\n", err)
		}
		everything.WriteString(err.Error() + "\n")
		// What the fields hold is built from the answer too.
		var apiErr *apiauth.Error
		if errors.As(err, &apiErr) {
			fmt.Fprintf(&everything, "%s|%s|%s|%s|%s|%s|%s|%s\n", apiErr.Code, apiErr.Message, apiErr.Detail,
				apiErr.RequiredRole, apiErr.RequestID, apiErr.Path, apiErr.Body, apiErr.RawDetail)
		}
	}
	all := everything.String()
	if !strings.Contains(logs.String(), "token refresh failed") {
		t.Errorf("no %q log line: the run did not exercise the cache's logging", "token refresh failed")
	}
	if !strings.Contains(all, "[REDACTED]") {
		t.Errorf("nothing was redacted: the servers did not echo")
	}
	shown := 0
	for i := 0; i < len(all); {
		j := strings.Index(all[i:], "CANARY")
		if j < 0 {
			break
		}
		j += i
		if shown++; shown <= 10 {
			t.Errorf("a canary shows: ...%s...", all[max(0, j-120):min(len(all), j+60)])
		}
		i = j + 1
	}
	if shown > 10 {
		t.Errorf("%d canaries show in all", shown)
	}
	t.Logf("%d errors, %d log lines checked", len(errs), strings.Count(logs.String(), "\n"))
}
