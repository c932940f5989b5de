package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/examples/internal/exampletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example as `go run ./examples/artos` does with no
// token set: against the fake, offline.
func TestRun(t *testing.T) {
	exampletest.Unsetenv(t, "ARTOS_TOKEN", envBaseURL)
	exampletest.Output(t, exampletest.Run(t, run),
		[]string{"ARTOS_TOKEN is not set: using the in-process fake", "search status: ok", "doc_1", "tpl_1"})
}

// TestRunWithToken runs the example the way a user would against the real
// API, with ARTOS_TOKEN and ARTOS_BASE_URL set, here pointing at a
// plain-HTTP fake on loopback.
func TestRunWithToken(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.Artos))

	t.Setenv("ARTOS_TOKEN", srv.MintArtosToken(apiauthtest.ArtosUserID, 0))
	out := exampletest.Run(t, run)
	if !strings.Contains(out, "using ARTOS_TOKEN at "+srv.URL(apiauthtest.Artos)) || !strings.Contains(out, "doc_2") {
		t.Errorf("output:\n%s", out)
	}

	t.Setenv("ARTOS_TOKEN", srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute))
	err := run(context.Background(), io.Discard)
	if !errors.Is(err, apiauth.ErrUnauthorized) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("expired token: %v", err)
	}
}
