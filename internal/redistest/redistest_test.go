package redistest

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recordingTB records what Start asks of its testing.TB. Skip and Fatal
// stop the caller, as the real ones do, by panicking.
type recordingTB struct {
	testing.TB
	skipped, failed string
	cleanups        []func()
}

type stopped struct{}

func (r *recordingTB) Helper()          {}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Skip(args ...any) { r.skipped = args[0].(string); panic(stopped{}) }
func (r *recordingTB) Fatal(args ...any) {
	if s, ok := args[0].(string); ok {
		r.failed = s
	} else {
		r.failed = "error"
	}
	panic(stopped{})
}

func startWith(tb *recordingTB) (s *Server) {
	defer func() {
		if v := recover(); v != nil && v != (stopped{}) {
			panic(v)
		}
	}()
	return Start(tb)
}

func TestStartWithoutBinary(t *testing.T) {
	t.Setenv(EnvBinary, "/nonexistent/redis-server")
	t.Setenv("CI", "")
	tb := &recordingTB{}
	startWith(tb)
	if !strings.Contains(tb.skipped, "NOT running") || !strings.Contains(tb.skipped, "redis-server") || tb.failed != "" {
		t.Errorf("outside CI: skipped %q, failed %q; want a loud skip", tb.skipped, tb.failed)
	}

	t.Setenv("CI", "true")
	tb = &recordingTB{}
	startWith(tb)
	if !strings.Contains(tb.failed, "must run") || tb.skipped != "" {
		t.Errorf("in CI: skipped %q, failed %q; want a failure", tb.skipped, tb.failed)
	}
}

func TestServerKillRestartPause(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	s.Kill()
	if err := ping(s.Addr); err == nil {
		t.Fatal("PING answered after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("PING after Restart on the same address: %v", err)
	}
	if err := s.Pause(); err != nil {
		t.Skip(err)
	}
	if err := ping(s.Addr); err == nil {
		t.Error("PING answered while paused")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := ping(s.Addr); err != nil {
		t.Errorf("PING after Resume: %v", err)
	}
}
