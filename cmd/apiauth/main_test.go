package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
	"go.uber.org/goleak"
)

// bin is the apiauth binary TestMain builds: the tests run it end to end.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apiauth-doctor-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "apiauth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/apiauth: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		// The in-process runs (the Example, servers the tests start) must
		// leave no goroutine behind.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runDoctor runs the binary with args and exactly the environment env (plus
// PATH and HOME): the caller's own credentials never leak in.
func runDoctor(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("apiauth %s: no answer in 60 s", strings.Join(args, " "))
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// report is the part of the --json object the tests read.
type jsonReport struct {
	Family     string `json:"family"`
	OK         bool   `json:"ok"`
	Outcome    string `json:"outcome"`
	ExitCode   int    `json:"exit_code"`
	Credential struct {
		Source, Kind, Redacted, Mode string
	} `json:"credential"`
	Identity *struct {
		User, Email, Role, Tenant, Detail string
		TenantName                        string `json:"tenant_name"`
	} `json:"identity"`
	Token *struct {
		Kind             string     `json:"kind"`
		ExpiresAt        *time.Time `json:"expires_at"`
		IssuedAt         *time.Time `json:"issued_at"`
		LifetimeSeconds  int64      `json:"lifetime_seconds"`
		RemainingSeconds *int64     `json:"remaining_seconds"`
	} `json:"token"`
	ClockSkew *struct {
		SkewSeconds int64 `json:"skew_seconds"`
	} `json:"clock_skew"`
	RateLimit *struct {
		Reported  bool       `json:"reported"`
		Limit     *int64     `json:"limit"`
		Remaining *int64     `json:"remaining"`
		Reset     *time.Time `json:"reset"`
	} `json:"rate_limit"`
	Warnings []string `json:"warnings"`
	Error    *struct {
		Message  string   `json:"message"`
		Status   int      `json:"status"`
		Code     string   `json:"code"`
		Matches  []string `json:"matches"`
		Required string   `json:"required_role"`
		Remedy   *struct {
			Source string   `json:"source"`
			Steps  []string `json:"steps"`
		} `json:"remedy"`
	} `json:"error"`
}

func parseJSON(t *testing.T, r result) jsonReport {
	t.Helper()
	var rep jsonReport
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("--json printed more than one value:\n%s", r.stdout)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &obj); err != nil {
		t.Fatalf("--json output is not one object: %v", err)
	}
	return rep
}

// seededSecrets are the fake's secrets: none may appear in any output.
var seededSecrets = []string{
	apiauthtest.AudiModalLiveKey, apiauthtest.AudiModalTenantKey, apiauthtest.AudiModalPassword,
	apiauthtest.VoltasisAPIKey, apiauthtest.ArtanisAPIKey,
	"eyJ", // the start of every JWT the fake mints (access and refresh tokens)
}

func noSecrets(t *testing.T, r result, extra ...string) {
	t.Helper()
	for _, s := range append(append([]string(nil), seededSecrets...), extra...) {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("output shows the secret %q:\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

func wantContains(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// TestFakeOK: every family passes against the fake with its seeded
// credentials, printing identity, tenant, token expiry (for tokens) and
// rate-limit headroom, in text and in JSON.
func TestFakeOK(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		text []string // in the text report
		// secrets besides the seeded ones (Artos' user id is one).
		secrets []string
		check   func(t *testing.T, rep jsonReport)
	}{
		{
			name: "audimodal", args: []string{"doctor", "audimodal", "--fake"},
			text: []string{"who          API key holder (live key)", "tenant       tenant_123", "mode live",
				"rate limit   999 of 1000 requests left, window resets ", "clock skew", "AudiModal reports no expiry for API keys"},
			check: func(t *testing.T, rep jsonReport) {
				if rep.Identity == nil || rep.Identity.Tenant != apiauthtest.AudiModalTenantID {
					t.Errorf("identity = %+v, want tenant %s", rep.Identity, apiauthtest.AudiModalTenantID)
				}
				rl := rep.RateLimit
				if rl == nil || !rl.Reported || rl.Limit == nil || *rl.Limit != 1000 || rl.Remaining == nil || *rl.Remaining != 999 || rl.Reset == nil {
					t.Errorf("rate_limit = %+v, want 999 of 1000 with a reset", rl)
				}
				if rep.Credential.Mode != "live" {
					t.Errorf("mode = %q, want live", rep.Credential.Mode)
				}
			},
		},
		{
			name: "audimodal-login", args: []string{"doctor", "audimodal", "--fake", "--login"},
			text: []string{"who          user_123 <user@company.com>, role admin", "tenant       tenant_123",
				"lifetime 1h0m0s", "left", "rate limit   999 of 1000"},
			check: func(t *testing.T, rep jsonReport) {
				tok := rep.Token
				if tok == nil || tok.ExpiresAt == nil || tok.IssuedAt == nil || tok.LifetimeSeconds != 3600 || tok.RemainingSeconds == nil || *tok.RemainingSeconds < 3500 {
					t.Errorf("token = %+v, want a one-hour session with its expiry", tok)
				}
				if until := time.Until(*tok.ExpiresAt); until < 55*time.Minute || until > 61*time.Minute {
					t.Errorf("expires_at %v is %v away, want about an hour", tok.ExpiresAt, until)
				}
			},
		},
		{
			name: "voltasis", args: []string{"doctor", "voltasis", "--fake"},
			text: []string{"who          usr_123456789 <your.email@example.com>", "organization org_123456789 (Your Organization)",
				"rate limit   not reported by the server", "do not expire"},
			check: func(t *testing.T, rep jsonReport) {
				if rep.Identity == nil || rep.Identity.User != apiauthtest.VoltasisUserID || rep.Identity.Tenant != apiauthtest.VoltasisOrgID {
					t.Errorf("identity = %+v", rep.Identity)
				}
				if rep.RateLimit == nil || rep.RateLimit.Reported {
					t.Errorf("rate_limit = %+v, want reported: false", rep.RateLimit)
				}
			},
		},
		{
			name: "artanis", args: []string{"doctor", "artanis", "--fake"},
			text: []string{"organization my-org (x-org-slug)", `prompts readable in project "my-project"`, "x-api-key=***", "rate limit   not reported"},
			check: func(t *testing.T, rep jsonReport) {
				if rep.Identity == nil || rep.Identity.Tenant != apiauthtest.ArtanisOrgSlug {
					t.Errorf("identity = %+v", rep.Identity)
				}
			},
		},
		{
			name: "artos", args: []string{"doctor", "artos", "--fake"},
			text:    []string{"organization org_123", "JWT from POST /get-access-token, expires ", "lifetime 1h0m0s", `search status "ok"`, "rate limit   not reported"},
			secrets: []string{apiauthtest.ArtosUserID},
			check: func(t *testing.T, rep jsonReport) {
				if rep.Token == nil || rep.Token.ExpiresAt == nil || rep.Token.LifetimeSeconds != 3600 {
					t.Errorf("token = %+v, want a one-hour JWT", rep.Token)
				}
				if rep.Identity == nil || rep.Identity.Tenant != apiauthtest.ArtosOrgID {
					t.Errorf("identity = %+v", rep.Identity)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runDoctor(t, nil, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			wantContains(t, r.stdout, append([]string{"result       OK", "clock skew   +0s"}, tc.text...)...)
			wantContains(t, r.stderr, "checking "+tc.args[1]+" ")
			noSecrets(t, r, tc.secrets...)

			j := runDoctor(t, nil, append(tc.args, "--json")...)
			if j.code != 0 {
				t.Fatalf("--json: exit %d, want 0\n%s%s", j.code, j.stdout, j.stderr)
			}
			rep := parseJSON(t, j)
			if !rep.OK || rep.Outcome != "ok" || rep.ExitCode != 0 || rep.Error != nil {
				t.Errorf("report = %+v, want ok", rep)
			}
			if rep.ClockSkew == nil || rep.ClockSkew.SkewSeconds != 0 {
				t.Errorf("clock_skew = %+v, want 0 against the in-process fake", rep.ClockSkew)
			}
			tc.check(t, rep)
			noSecrets(t, j, tc.secrets...)
		})
	}
}

// wrongKey is a well-formed key the fake does not know; being a canary,
// it must not appear in the output either (only its redacted form).
const wrongKey = "sk_live_CANARYwrongKey0123456789"

// TestFakeWrongKey: a wrong credential in the environment, used against the
// fake, fails with exit 4, the typed error and the provider's remedy.
func TestFakeWrongKey(t *testing.T) {
	for _, tc := range []struct {
		name, family string
		env          []string
		status       int
		code         string
		remedy       string // a phrase of the documented remedy
	}{
		{"audimodal", "audimodal", []string{"AUDIMODAL_API_KEY=" + wrongKey}, 401, "INVALID_API_KEY", "sk_test_ prefix for development"},
		{"audimodal-login", "audimodal", []string{"AUDIMODAL_EMAIL=user@company.com", "AUDIMODAL_PASSWORD=CANARYwrongKey0123456789"}, 401, "UNAUTHORIZED", "check AUDIMODAL_EMAIL, AUDIMODAL_PASSWORD and AUDIMODAL_TENANT_ID"},
		{"voltasis", "voltasis", []string{"VOLTASIS_API_KEY=" + wrongKey}, 401, "UNAUTHORIZED", `missing "Bearer" prefix`},
		{"artanis", "artanis", []string{"ARTANIS_API_KEY=" + wrongKey}, 401, "", "Missing or invalid x-api-key"},
		{"artanis-org", "artanis", []string{"ARTANIS_ORG_SLUG=" + apiauthtest.ArtanisForeignOrgSlug}, 403, "", "does not belong to the organization in x-org-slug"},
		{"artos-token", "artos", []string{"ARTOS_TOKEN=" + wrongKey}, 401, "", "Obtain a fresh token from your administrator"},
		{"artos-user", "artos", []string{"ARTOS_USER_ID=" + wrongKey}, 401, "", "calling the /get-access-token endpoint with your user_id"},
		{"artos-no-org", "artos", []string{"ARTOS_USER_ID=" + apiauthtest.ArtosNoOrgUserID}, 403, "", "verify your account setup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runDoctor(t, tc.env, "doctor", tc.family, "--fake")
			if r.code != exitRefused {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitRefused, r.stdout, r.stderr)
			}
			wantContains(t, r.stdout, "FAILED: refused by the server (exit 4)", fmt.Sprintf("status       %d", tc.status), "remedy", tc.remedy)
			if tc.code != "" {
				wantContains(t, r.stdout, "code         "+tc.code)
			}
			noSecrets(t, r, "CANARYwrongKey")

			j := runDoctor(t, tc.env, "doctor", tc.family, "--fake", "--json")
			rep := parseJSON(t, j)
			if j.code != exitRefused || rep.ExitCode != exitRefused || rep.OK || rep.Outcome != "refused" {
				t.Errorf("exit %d, report %+v, want refused", j.code, rep)
			}
			if rep.Error == nil || rep.Error.Status != tc.status || rep.Error.Code != tc.code || rep.Error.Remedy == nil ||
				!strings.Contains(strings.Join(rep.Error.Remedy.Steps, "\n"), tc.remedy) {
				t.Errorf("error = %+v, want status %d, code %q and a remedy with %q", rep.Error, tc.status, tc.code, tc.remedy)
			}
			noSecrets(t, j, "CANARYwrongKey")
		})
	}
}

// TestExitCodes: each outcome has its exit code, offline.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"no args", nil, nil, exitUsage, "usage: apiauth doctor"},
		{"unknown command", nil, []string{"cure"}, exitUsage, "unknown command"},
		{"no family", nil, []string{"doctor"}, exitUsage, "no family given"},
		{"unknown family", nil, []string{"doctor", "nope", "--fake"}, exitUsage, "unknown family"},
		{"bad flag", nil, []string{"doctor", "voltasis", "--nope"}, exitUsage, "flag provided but not defined"},
		{"bad env", nil, []string{"doctor", "audimodal", "--env=staging"}, exitUsage, "--env must be"},
		{"artanis without project", []string{"ARTANIS_API_KEY=k", "ARTANIS_ORG_SLUG=o"}, []string{"doctor", "artanis"}, exitUsage, "--project"},
		{"help", nil, []string{"doctor", "--help"}, exitOK, "Exit codes: 0 ok, 2 usage"},
		{"family after flags", nil, []string{"doctor", "--fake", "voltasis"}, exitOK, "result       OK"},
		{"voltasis unset", nil, []string{"doctor", "voltasis"}, exitCredential, "environment variable VOLTASIS_API_KEY is not set"},
		{"audimodal unset", nil, []string{"doctor", "audimodal"}, exitCredential, "environment variable AUDIMODAL_API_KEY or AUDIMODAL_EMAIL (with AUDIMODAL_PASSWORD and AUDIMODAL_TENANT_ID) is not set"},
		{"artos unset", nil, []string{"doctor", "artos"}, exitCredential, "environment variable ARTOS_TOKEN or ARTOS_USER_ID is not set"},
		{"artanis slug unset", []string{"ARTANIS_API_KEY=k"}, []string{"doctor", "artanis", "--project", "p"}, exitCredential, "ARTANIS_ORG_SLUG is not set"},
		{"key with a space", []string{"VOLTASIS_API_KEY=two words"}, []string{"doctor", "voltasis"}, exitCredential, "contains whitespace"},
		{"prefix only", []string{"AUDIMODAL_API_KEY=sk_live_"}, []string{"doctor", "audimodal"}, exitCredential, "has nothing after its prefix"},
		{"login incomplete", []string{"AUDIMODAL_EMAIL=a@b.c"}, []string{"doctor", "audimodal"}, exitCredential, "environment variables AUDIMODAL_PASSWORD and AUDIMODAL_TENANT_ID are not set"},
		{"plain http", []string{"VOLTASIS_API_KEY=" + wrongKey}, []string{"doctor", "voltasis", "--base-url", "http://api.example.com"}, exitCredential, "Use an https:// base URL"},
		{"base URL with userinfo", []string{"VOLTASIS_API_KEY=" + wrongKey}, []string{"doctor", "voltasis", "--base-url", "http://me:CANARYwrongKey@api.example.com/?k=CANARYwrongKey"}, exitCredential, "base URL     http://api.example.com/\n"},
		{"base URL unparsable", []string{"VOLTASIS_API_KEY=" + wrongKey}, []string{"doctor", "voltasis", "--base-url", "https://[CANARYwrongKey"}, exitCredential, "not an absolute https:// URL"},
		{"network", []string{"VOLTASIS_API_KEY=" + wrongKey}, []string{"doctor", "voltasis", "--base-url", "https://127.0.0.1:1", "--timeout", "5s"}, exitOther, "network or other failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runDoctor(t, tc.env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			wantContains(t, r.stdout+r.stderr, tc.want)
			noSecrets(t, r, "CANARYwrongKey", "two words")
		})
	}
}

// TestModeWarning: an AudiModal key of the other mode than --env is a
// warning, not a failure.
func TestModeWarning(t *testing.T) {
	r := runDoctor(t, nil, "doctor", "audimodal", "--fake", "--env=test", "--json")
	rep := parseJSON(t, r)
	if r.code != 0 || !rep.OK {
		t.Fatalf("exit %d, report %+v: want ok", r.code, rep)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "sk_live_ (production) key with --env=test") {
		t.Errorf("warnings = %q, want the live-key-in-test warning", rep.Warnings)
	}
	if r := runDoctor(t, nil, "doctor", "audimodal", "--fake", "--env=production", "--json"); len(parseJSON(t, r).Warnings) != 0 {
		t.Errorf("a live key with --env=production warned: %s", r.stdout)
	}
}

// TestAgainstServer: --base-url points the doctor at a server of our own,
// here a plain-http fake on loopback (a warning, not a refusal), rate limited
// to one request per minute: the second check is exit 5, with the reset.
func TestAgainstServer(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true, AudiModalRateLimit: apiauthtest.RateLimit{Limit: 1, Window: time.Hour}})
	defer srv.Close()
	env := []string{"AUDIMODAL_API_KEY=" + apiauthtest.AudiModalLiveKey}
	args := []string{"doctor", "audimodal", "--base-url", srv.URL(apiauthtest.AudiModal), "--json"}

	r := runDoctor(t, env, args...)
	rep := parseJSON(t, r)
	if r.code != 0 || !rep.OK {
		t.Fatalf("first check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rep.RateLimit == nil || rep.RateLimit.Remaining == nil || *rep.RateLimit.Remaining != 0 {
		t.Errorf("rate_limit = %+v, want 0 remaining", rep.RateLimit)
	}
	wantContains(t, strings.Join(rep.Warnings, "\n"), "plain http://", "rate limit nearly spent")

	r = runDoctor(t, env, args...)
	rep = parseJSON(t, r)
	if r.code != exitRateLimit || rep.Outcome != "rate_limited" || rep.Error == nil || rep.Error.Status != http.StatusTooManyRequests || rep.Error.Code != "RATE_LIMIT_EXCEEDED" {
		t.Fatalf("second check: exit %d, report %+v: want rate limited\n%s", r.code, rep, r.stderr)
	}
	wantContains(t, rep.Error.Remedy.Source, "Rate Limiting")
	noSecrets(t, r)
}

// TestClockSkew: the skew is read from the server's Date header; two
// minutes ahead is reported and warned about.
func TestClockSkew(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/auth/me" || r.Header.Get("Authorization") != "Bearer "+apiauthtest.VoltasisAPIKey {
			http.Error(w, `{"error":{"code":"UNAUTHORIZED","message":"no"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Date", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"id":"usr_1","email":"a@example.com","organization":{"id":"org_1","name":"One"}}}`)
	}))
	defer srv.Close()
	r := runDoctor(t, []string{"VOLTASIS_API_KEY=" + apiauthtest.VoltasisAPIKey}, "doctor", "voltasis", "--base-url", srv.URL, "--json")
	rep := parseJSON(t, r)
	if r.code != 0 || rep.ClockSkew == nil {
		t.Fatalf("exit %d, report %+v\n%s", r.code, rep, r.stderr)
	}
	if s := rep.ClockSkew.SkewSeconds; s < 118 || s > 122 {
		t.Errorf("skew_seconds = %d, want about 120", s)
	}
	wantContains(t, strings.Join(rep.Warnings, "\n"), "clock skew of 2m")
	noSecrets(t, r)
}

// TestTimeout: a server that never answers is exit 6 within --timeout.
func TestTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // accepted, never answered
		}
	}()
	defer func() {
		for len(held) > 0 {
			(<-held).Close()
		}
	}()
	start := time.Now()
	r := runDoctor(t, []string{"VOLTASIS_API_KEY=" + apiauthtest.VoltasisAPIKey}, "doctor", "voltasis", "--base-url", "https://"+ln.Addr().String(), "--timeout", "1s", "--json")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("took %v with --timeout 1s", took)
	}
	rep := parseJSON(t, r)
	if r.code != exitOther || rep.Outcome != "other" || rep.Error == nil {
		t.Fatalf("exit %d, report %+v: want 6", r.code, rep)
	}
	wantContains(t, r.stderr, "checking voltasis GET /v1/auth/me")
	if rep.Error.Remedy == nil || !strings.Contains(strings.Join(rep.Error.Remedy.Steps, " "), "--timeout") {
		t.Errorf("remedy = %+v, want the no-answer advice", rep.Error.Remedy)
	}
	noSecrets(t, r)
}

// TestArtosToken: ARTOS_TOKEN is used as it is; its lifetime and expiry come
// from the JWT, and an expired one is refused with the documented remedy.
func TestArtosToken(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	args := []string{"doctor", "artos", "--base-url", srv.URL(apiauthtest.Artos), "--json"}

	good := srv.MintArtosToken(apiauthtest.ArtosUserID, 2*time.Hour)
	r := runDoctor(t, []string{"ARTOS_TOKEN=" + good}, args...)
	rep := parseJSON(t, r)
	if r.code != 0 || !rep.OK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rep.Token == nil || rep.Token.LifetimeSeconds != 7200 || rep.Token.RemainingSeconds == nil || *rep.Token.RemainingSeconds < 7100 {
		t.Errorf("token = %+v, want a two-hour JWT", rep.Token)
	}
	if rep.Identity == nil || rep.Identity.Tenant != apiauthtest.ArtosOrgID {
		t.Errorf("identity = %+v, want organization %s", rep.Identity, apiauthtest.ArtosOrgID)
	}
	noSecrets(t, r, good[len(good)-20:], apiauthtest.ArtosUserID)

	expired := srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute)
	r = runDoctor(t, []string{"ARTOS_TOKEN=" + expired}, args...)
	rep = parseJSON(t, r)
	if r.code != exitRefused || rep.Error == nil || rep.Error.Status != http.StatusUnauthorized || rep.Error.Remedy == nil {
		t.Fatalf("exit %d, report %+v: want refused with a remedy", r.code, rep)
	}
	wantContains(t, strings.Join(rep.Warnings, "\n"), "the token expired at")
	wantContains(t, strings.Join(rep.Error.Remedy.Steps, "\n"), "Obtain a fresh token from your administrator")
	if rep.Token == nil || rep.Token.RemainingSeconds == nil || *rep.Token.RemainingSeconds > -50 {
		t.Errorf("token = %+v, want about -60 s remaining", rep.Token)
	}
	noSecrets(t, r, expired[len(expired)-20:], apiauthtest.ArtosUserID)
}
