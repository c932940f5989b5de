package artos_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started (a
// client's connections, a token cache's refresh) is still running at the
// end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
