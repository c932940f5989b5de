package redisstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine they started (the
// store's subscription and lease renewals, go-redis' own) is still running
// at the end: every test closes its stores and clients.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
