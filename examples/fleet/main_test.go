package main

import (
	"bytes"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestFleet runs the example end to end, as `go run ./examples/fleet` does,
// and checks what it demonstrates.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet example takes about eleven seconds")
	}
	var out bytes.Buffer
	phases, err := run(&out)
	if err != nil {
		t.Fatal(err)
	}
	if phases == nil {
		msg := "\n*** no redis-server: the fleet example did not run\n" + out.String()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Log("\n" + out.String())
	shared, down, back := phases[0], phases[1], phases[2]
	for i, p := range phases {
		if p.Failed != 0 || p.Requests == 0 {
			t.Errorf("phase %d: %d of %d requests failed", i+1, p.Failed, p.Requests)
		}
	}
	if shared.Logins != 1 || shared.Refreshes < 2 || shared.Refreshes > 3 || shared.Rejected != 0 || shared.TokensInUse != 1 {
		t.Errorf("with Redis: %+v; want 1 login, 2 or 3 refreshes (one per expiry in 4.5 s), none rejected, one shared token", shared)
	}
	if down.Refreshes == 0 {
		t.Errorf("with Redis down: %+v; want local refreshes", down)
	}
	if back.Logins != 0 || back.Rejected != 0 || back.TokensInUse != 1 {
		t.Errorf("after the restart: %+v; want no login, none rejected, one shared token", back)
	}
	goleak.VerifyNone(t)
}
