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

var settings = []string{"VOLTASIS_API_KEY", envBaseURL, envOrgID, envWrite}

// TestRun runs the example as `go run ./examples/voltasis` does with no key
// set: against the fake, offline.
func TestRun(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
	exampletest.Output(t, exampletest.Run(t, run), []string{"VOLTASIS_API_KEY is not set: using the in-process fake",
		"acting in org_987654321: allowed", "2 active API keys", "the new key works", "revoked; the key is now refused"},
		"failed", apiauthtest.VoltasisAdminKey)
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback: read-only unless
// VOLTASIS_EXAMPLE_WRITE=1.
func TestRunWithKey(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.Voltasis))
	t.Setenv("VOLTASIS_API_KEY", apiauthtest.VoltasisAPIKey)
	t.Setenv(envOrgID, apiauthtest.VoltasisOtherOrgID)

	exampletest.Output(t, exampletest.Run(t, run),
		[]string{"me: usr_123456789", "acting in org_987654321: refused", "skipping the create-and-revoke"})
	if st := srv.Stats().Voltasis; st.TokensIssued != 0 {
		t.Errorf("%d keys created without %s=1", st.TokensIssued, envWrite)
	}

	t.Setenv(envWrite, "1")
	if err := run(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats().Voltasis; st.TokensIssued != 1 {
		t.Errorf("%d keys created, want 1", st.TokensIssued)
	}

	t.Setenv("VOLTASIS_API_KEY", "vk_revoked_or_wrong")
	if err := run(context.Background(), io.Discard); !errors.Is(err, apiauth.ErrUnauthorized) {
		t.Errorf("a wrong key: %v", err)
	}
}
