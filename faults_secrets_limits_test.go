package apiauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

// fltFarResetCases: one answer says nothing is left until far ahead, then
// the server is healthy (issue 13 row 4). Through the whole client, in a
// synctest bubble (the horizon is a minute of fake time): requests fail fast
// with *RateLimitError, a probe reaches the server within the refusal
// horizon (max(MaxWait, PaceProbeInterval): 1 min by default), and traffic
// resumes.
func fltFarResetCases() []fltCase {
	type variant struct {
		name   string
		status int
		bad    []string
	}
	healthy := func(left int) []string {
		return []string{"RateLimit-Policy", "100;w=60", "X-RateLimit-Limit", "100",
			"X-RateLimit-Remaining", fmt.Sprint(left), "X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Minute).Unix())}
	}
	var rows []fltCase
	for _, v := range []variant{
		{"reset in the year 9999", 429, []string{"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "253402300799000"}},
		{"reset a day ahead (clock skew)", 429, nil},
		{"RateLimit-Policy window of 1e9 s", 200, []string{"RateLimit-Policy", "100;w=1000000000", "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0"}},
	} {
		rows = append(rows, fltCase{
			name: "Remaining 0, " + v.name + ", then healthy", want: "*RateLimitError at once, a probe within 1 min, then ok",
			api: -1, token: -1,
			run: func(t *testing.T, _ context.Context, _ **fltServer) fltOutcome {
				var out fltOutcome
				synctest.Test(t, func(t *testing.T) {
					var calls atomic.Int64
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						n := calls.Add(1)
						kv, status := healthy(max(100-int(n), 1)), 200
						if n == 1 {
							kv, status = v.bad, v.status
							if kv == nil { // a server clock a day and an hour fast
								kv = []string{"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0",
									"X-RateLimit-Reset", fmt.Sprint(time.Now().Add(25 * time.Hour).Unix())}
							}
						}
						for i := 0; i+1 < len(kv); i += 2 {
							w.Header().Set(kv[i], kv[i+1])
						}
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(status)
						io.WriteString(w, `{}`)
					})
					c := fltClient(t, "http://127.0.0.1:1", fltStatic(t, apiauthtest.VoltasisAPIKey), apiauth.ClientOptions{Base: fltInProcess{h}})
					ctx := context.Background()
					_, first := c.Get(ctx, "v1/files", nil)
					if v.status == 429 && first == nil {
						t.Errorf("the far-reset 429 was not an error")
					}
					start := time.Now()
					refused, probe, ok := 0, time.Duration(-1), 0
					for time.Since(start) < 5*time.Minute {
						before, began := calls.Load(), time.Now()
						_, err := c.Get(ctx, "v1/files", nil)
						var rle *apiauth.RateLimitError
						switch {
						case err == nil:
							if probe < 0 {
								probe = time.Since(start)
							}
							ok++
						case errors.As(err, &rle) && probe < 0 && calls.Load() == before && time.Since(began) == 0:
							refused++
						default:
							if out.err == nil {
								out.err = err
							}
							t.Errorf("at +%s: %v", time.Since(start), err)
						}
						time.Sleep(5 * time.Second)
					}
					if probe < 0 || probe > time.Minute+5*time.Second {
						t.Errorf("no request reached the healthy server within the horizon (first at +%s; %d refused)", probe, refused)
					}
					if v.status == 429 && refused == 0 {
						t.Errorf("no request failed fast before the probe")
					}
					if ok < 40 {
						t.Errorf("only %d requests succeeded after the probe: traffic did not resume", ok)
					}
					out.note = fmt.Sprintf(": %d refused at once, probe at +%s, %d ok, %d calls", refused, probe, ok, calls.Load())
				})
				return out
			},
		})
	}
	return rows
}
