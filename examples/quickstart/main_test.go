package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestQuickstart runs the quickstart end to end, offline, as
// `go run ./examples/quickstart` does.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("the quickstart takes about ten seconds")
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}
