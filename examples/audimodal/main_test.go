package main

import (
	"context"
	"errors"
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/examples/internal/exampletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var settings = []string{"AUDIMODAL_API_KEY", envBaseURL, envOtherTenant, envEmail, envPassword, envTenant}

// TestRun runs the example as `go run ./examples/audimodal` does with no
// key set: against the fake, offline.
func TestRun(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
	exampletest.Output(t, exampletest.Run(t, run), []string{"AUDIMODAL_API_KEY is not set: using the in-process fake",
		"tenant tenant_123", "tenant tenant_456: 1 files", "logged in as user@company.com"},
		apiauthtest.AudiModalLiveKey, "eyJ")
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback.
func TestRunWithKey(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.AudiModal))
	t.Setenv("AUDIMODAL_API_KEY", apiauthtest.AudiModalTenantKey)
	t.Setenv(envOtherTenant, apiauthtest.AudiModalOtherTenantID)

	out := exampletest.Run(t, run)
	exampletest.Output(t, out, []string{"(mode tenant)", "tenant tenant_456: refused, the key needs role \"admin\"", "no user session"})

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
