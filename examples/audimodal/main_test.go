package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var settings = []string{"AUDIMODAL_API_KEY", envBaseURL, envOtherTenant, envEmail, envPassword, envTenant}

// unsetenv unsets the variables for the test, restoring them after it.
func unsetenv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // records the old value for the cleanup
		os.Unsetenv(n)
	}
}

// TestRun runs the example as `go run ./examples/audimodal` does with no
// key set: against the fake, offline.
func TestRun(t *testing.T) {
	unsetenv(t, settings...)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"AUDIMODAL_API_KEY is not set: using the in-process fake", "tenant tenant_123",
		"tenant tenant_456: 1 files", "logged in as user@company.com"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, apiauthtest.AudiModalLiveKey) || strings.Contains(s, "eyJ") {
		t.Errorf("output shows a secret:\n%s", s)
	}
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback.
func TestRunWithKey(t *testing.T) {
	unsetenv(t, settings...)
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.AudiModal))
	t.Setenv("AUDIMODAL_API_KEY", apiauthtest.AudiModalTenantKey)
	t.Setenv(envOtherTenant, apiauthtest.AudiModalOtherTenantID)

	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"(mode tenant)", "tenant tenant_456: refused, the key needs role \"admin\"", "no user session"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}

	t.Setenv(envEmail, apiauthtest.AudiModalMemberEmail)
	t.Setenv(envPassword, apiauthtest.AudiModalMemberPassword)
	t.Setenv(envTenant, apiauthtest.AudiModalTenantID)
	if err := run(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats().AudiModal; st.Logins != 1 {
		t.Errorf("%d logins, want 1", st.Logins)
	}

	t.Setenv("AUDIMODAL_API_KEY", "sk_live_unknown_0000000000")
	if err := run(context.Background(), io.Discard); !errors.Is(err, apiauth.ErrInvalidAPIKey) {
		t.Errorf("an unknown key: %v", err)
	}
}
