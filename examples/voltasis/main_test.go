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

var settings = []string{"VOLTASIS_API_KEY", envBaseURL, envOrgID, envWrite}

// unsetenv unsets the variables for the test, restoring them after it.
func unsetenv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // records the old value for the cleanup
		os.Unsetenv(n)
	}
}

// TestRun runs the example as `go run ./examples/voltasis` does with no key
// set: against the fake, offline.
func TestRun(t *testing.T) {
	unsetenv(t, settings...)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"VOLTASIS_API_KEY is not set: using the in-process fake", "acting in org_987654321: allowed",
		"2 active API keys", "the new key works", "revoked; the key is now refused"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "failed") || strings.Contains(s, apiauthtest.VoltasisAdminKey) {
		t.Errorf("output:\n%s", s)
	}
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback: read-only unless
// VOLTASIS_EXAMPLE_WRITE=1.
func TestRunWithKey(t *testing.T) {
	unsetenv(t, settings...)
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.Voltasis))
	t.Setenv("VOLTASIS_API_KEY", apiauthtest.VoltasisAPIKey)
	t.Setenv(envOrgID, apiauthtest.VoltasisOtherOrgID)

	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"me: usr_123456789", "acting in org_987654321: refused", "skipping the create-and-revoke"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
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
