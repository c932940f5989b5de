// Package exampletest holds what the tests of the example programs share:
// a clean environment, a run of the program into a buffer, and checks of
// what it printed.
package exampletest

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// Unsetenv unsets the variables for the test, restoring them after it.
func Unsetenv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "") // records the old value for the cleanup
		os.Unsetenv(n)
	}
}

// Run runs an example's run function and returns what it printed; the test
// stops if it fails.
func Run(t *testing.T, run func(context.Context, io.Writer) error) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return out.String()
}

// Output checks that out holds every string of want and none of absent
// (secrets, failure words).
func Output(t *testing.T, out string, want []string, absent ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, a := range absent {
		if strings.Contains(out, a) {
			t.Errorf("output shows %q:\n%s", a, out)
		}
	}
}
