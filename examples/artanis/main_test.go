package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/examples/internal/exampletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var settings = []string{"ARTANIS_API_KEY", envBaseURL, envOrgSlug, envProjectSlug, envSecondOrg, envSecondProject}

// TestRun runs the example as `go run ./examples/artanis` does with no key
// set: against the fake, offline.
func TestRun(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
	exampletest.Output(t, exampletest.Run(t, run), []string{"ARTANIS_API_KEY is not set: using the in-process fake",
		"my-org/my-project: 2 prompts", "second-org/second-project: 2 prompts"}, apiauthtest.ArtanisAPIKey)
}

// TestRunWithKey runs the example as a user would against the real API,
// the settings pointing at a plain-HTTP fake on loopback.
func TestRunWithKey(t *testing.T) {
	exampletest.Unsetenv(t, settings...)
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
	out := exampletest.Run(t, run)
	if strings.Contains(out, "fake") || !strings.Contains(out, "second-org/second-project: 2 prompts") {
		t.Errorf("output:\n%s", out)
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
