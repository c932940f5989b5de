package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// unsetenv unsets the variables for the test, restoring them after it.
func unsetenv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // records the old value for the cleanup
		os.Unsetenv(n)
	}
}

// TestRun runs the example as `go run ./examples/artos` does with no
// token set: against the fake, offline.
func TestRun(t *testing.T) {
	unsetenv(t, "ARTOS_TOKEN", envBaseURL)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"ARTOS_TOKEN is not set: using the in-process fake", "search status: ok", "doc_1", "tpl_1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunWithToken runs the example the way a user would against the real
// API, with ARTOS_TOKEN and ARTOS_BASE_URL set, here pointing at a
// plain-HTTP fake on loopback.
func TestRunWithToken(t *testing.T) {
	srv := apiauthtest.Start(apiauthtest.Config{PlainHTTP: true})
	defer srv.Close()
	t.Setenv(envBaseURL, srv.URL(apiauthtest.Artos))

	t.Setenv("ARTOS_TOKEN", srv.MintArtosToken(apiauthtest.ArtosUserID, 0))
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "using ARTOS_TOKEN at "+srv.URL(apiauthtest.Artos)) || !strings.Contains(s, "doc_2") {
		t.Errorf("output:\n%s", s)
	}

	t.Setenv("ARTOS_TOKEN", srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute))
	err := run(context.Background(), io.Discard)
	if !errors.Is(err, apiauth.ErrUnauthorized) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("expired token: %v", err)
	}
}
