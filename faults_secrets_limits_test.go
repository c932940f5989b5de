package apiauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/transport"
)

// fltSecretLimitCases are the fault-matrix rows for echoed secrets and far-off resets: issue 13 rows 3, 4.
func fltSecretLimitCases() []fltCase {
	return append(fltEchoCases(), fltFarResetCases()...)
}

// fltEchoHandler answers every request with status and a JSON error body
// that repeats the credential the request carried: its Authorization and
// x-api-key headers (also without their scheme) and the user_id, password
// and refresh_token of a JSON body.
func fltEchoHandler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var echoed []string
		for _, name := range []string{"Authorization", "X-Api-Key"} {
			if v := r.Header.Get(name); v != "" {
				echoed = append(echoed, v)
				if _, param, ok := strings.Cut(v, " "); ok {
					echoed = append(echoed, param)
				}
			}
		}
		var in map[string]string
		if json.NewDecoder(r.Body).Decode(&in) == nil {
			for _, k := range []string{"user_id", "password", "refresh_token"} {
				if in[k] != "" {
					echoed = append(echoed, in[k])
				}
			}
		}
		msg := "credential " + strings.Join(echoed, ", ") + " rejected"
		body, _ := json.Marshal(map[string]any{"detail": msg, "error": map[string]any{"code": "INVALID_API_KEY", "message": msg}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

// fltNoEcho checks what fltCheckError cannot (the Artos user id is not in
// fltSecrets): err, under every verb, and the log lines show none of
// secrets.
func fltNoEcho(t *testing.T, err error, logs fmt.Stringer, secrets ...string) {
	t.Helper()
	var forms []string
	if err != nil {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			forms = append(forms, fmt.Sprintf(verb, err))
		}
	}
	if logs != nil {
		forms = append(forms, logs.String())
	}
	for _, f := range forms {
		for _, s := range secrets {
			if strings.Contains(f, s) {
				t.Errorf("shows secret %q: %s", s, f)
			}
		}
	}
	if err != nil && !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("the echo was not received or not redacted: %v", err)
	}
}

// fltEchoCases: a server repeats the credential it received in its error
// answer; no error and no log line may show it (issue 13 row 3).
func fltEchoCases() []fltCase {
	apiEcho := func(name string, cred func(t *testing.T) transport.Credential, secret string) fltCase {
		return fltCase{
			name: "API echoes the " + name + " in a 403 body", want: "*apiauth.Error{403}, the secret redacted",
			match: []fltMatch{fltStatus(403)}, api: 1, token: 0,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				*s = fltServe(t, fltEchoHandler(403))
				logs := &canaryBuffer{}
				c := fltClient(t, (*s).URL, cred(t), apiauth.ClientOptions{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				_, err := c.Get(ctx, "v1/files", nil)
				fltNoEcho(t, err, logs, secret)
				return fltOutcome{err: err}
			},
		}
	}
	tokenEcho := func(name string, src func(t *testing.T, base string) apiauth.TokenSource, secret string) fltCase {
		return fltCase{
			name: "token endpoint echoes the " + name + " in a 401 body", want: "ErrTokenRefresh, the secret redacted in error and WARN log",
			match: []fltMatch{fltIs(apiauth.ErrTokenRefresh, "ErrTokenRefresh"), fltStatus(401)}, api: 0, token: 1,
			run: func(t *testing.T, ctx context.Context, s **fltServer) fltOutcome {
				*s = fltServe(t, fltEchoHandler(401))
				logs := &canaryBuffer{}
				logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				cache := apiauth.NewTokenCache(src(t, (*s).URL), &apiauth.CacheOptions{Logger: logger})
				t.Cleanup(func() { cache.Close() })
				c := fltClient(t, (*s).URL, cache, apiauth.ClientOptions{Logger: logger})
				_, err := c.Get(ctx, "v1/files", nil)
				if !strings.Contains(logs.String(), "token refresh failed") {
					t.Errorf("no WARN token refresh failed line in %s", logs)
				}
				fltNoEcho(t, err, logs, secret)
				return fltOutcome{err: err}
			},
		}
	}
	return []fltCase{
		apiEcho("Voltasis key", func(t *testing.T) transport.Credential { return fltStatic(t, apiauthtest.VoltasisAPIKey) }, apiauthtest.VoltasisAPIKey),
		apiEcho("Artanis key", func(t *testing.T) transport.Credential {
			p, err := apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, apiauthtest.ArtanisAPIKey),
		apiEcho("AudiModal key", func(t *testing.T) transport.Credential { return fltKey(t, apiauthtest.AudiModalLiveKey) }, apiauthtest.AudiModalLiveKey),
		apiEcho("opaque bearer token", func(t *testing.T) transport.Credential { return fltStatic(t, fltOpaque) }, fltOpaque),
		tokenEcho("Artos user id", func(t *testing.T, base string) apiauth.TokenSource {
			src, err := apiauth.NewTokenEndpoint(base+"/get-access-token", apiauthtest.ArtosUserID,
				&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: fltTransport(t)}})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}, apiauthtest.ArtosUserID),
		tokenEcho("AudiModal login password", func(t *testing.T, base string) apiauth.TokenSource {
			src, err := apiauth.NewLoginSource(base, apiauth.Login{Email: apiauthtest.AudiModalEmail,
				Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID},
				&apiauth.SourceOptions{HTTPClient: &http.Client{Transport: fltTransport(t)}})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}, apiauthtest.AudiModalPassword),
	}
}

// fltFarResetCases: see pace rows below (issue 13 row 4).
func fltFarResetCases() []fltCase {
	return nil
}
