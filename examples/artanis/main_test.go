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

var settings = []string{"ARTANIS_API_KEY", envBaseURL, envOrgSlug, envProjectSlug, envSecondOrg, envSecondProject}

// unsetenv unsets the variables for the test, restoring them after it.
func unsetenv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // records the old value for the cleanup
		os.Unsetenv(n)
	}
}

// TestRun runs the example as `go run ./examples/artanis` does with no key
// set: against the fake, offline.
func TestRun(t *testing.T) {
	unsetenv(t, settings...)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"ARTANIS_API_KEY is not set: using the in-process fake", "my-org/my-project: 2 prompts",
		"second-org/second-project: 2 prompts"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, apiauthtest.ArtanisAPIKey) {
		t.Errorf("output shows the key:\n%s", s)
	}
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback.
func TestRunWithKey(t *testing.T) {
	unsetenv(t, settings...)
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.Artanis))
	t.Setenv("ARTANIS_API_KEY", apiauthtest.ArtanisAPIKey)

	if err := run(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), envOrgSlug) {
		t.Errorf("without an organization: %v", err)
	}
	t.Setenv(envOrgSlug, apiauthtest.ArtanisOrgSlug)
	t.Setenv(envProjectSlug, apiauthtest.ArtanisProjectSlug)
	t.Setenv(envSecondOrg, apiauthtest.ArtanisSecondOrgSlug)
	t.Setenv(envSecondProject, apiauthtest.ArtanisSecondProjectSlug)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if s := out.String(); strings.Contains(s, "fake") || !strings.Contains(s, "second-org/second-project: 2 prompts") {
		t.Errorf("output:\n%s", s)
	}

	t.Setenv(envSecondProject, apiauthtest.ArtanisForeignProjectSlug)
	if err := run(context.Background(), io.Discard); !errors.Is(err, apiauth.ErrForbidden) {
		t.Errorf("a project of another organization: %v", err)
	}
	t.Setenv("ARTANIS_API_KEY", "artanis_wrong_key_0000")
	if err := run(context.Background(), io.Discard); !errors.Is(err, apiauth.ErrUnauthorized) {
		t.Errorf("a wrong key: %v", err)
	}
}
