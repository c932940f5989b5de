package transport

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine started by them is
// still running at the end. It is the only TestMain of package transport.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
