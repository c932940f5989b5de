package apiauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/internal/testrt"
	"github.com/apiauth/apiauth/transport"
)

// TestMemoryBoundedAcrossTenantsAndKeys sends 100,000 requests across
// 10,000 distinct tenants and API keys through the whole stack and checks
// that the live heap stays bounded: the rate-limit state keeps at most
// MaxKeys entries and nothing else grows with the number of keys.
func TestMemoryBoundedAcrossTenantsAndKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100,000 requests")
	}
	reset := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	base := testrt.Func(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("X-RateLimit-Limit", "1000")
		h.Set("X-RateLimit-Remaining", "999")
		h.Set("X-RateLimit-Reset", reset)
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	})
	const keys = 10000
	// Pace's default Identity: one budget per Authorization value.
	stack, err := transport.New(base, transport.Options{
		Auth: transport.AuthOptions{Origin: "https://api.audimodal.test", TenantHeader: audimodal.TenantHeader},
	})
	if err != nil {
		t.Fatal(err)
	}
	send := func(i int) {
		ctx := apiauth.WithTenant(context.Background(), fmt.Sprintf("tenant_%d", i%keys))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.audimodal.test/v1/files", nil)
		req.Header.Set("Authorization", fmt.Sprintf("Bearer sk_live_key%06d", i%keys))
		resp, err := stack.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	send(0) // warm up: pools, the default transport, the first state
	before := heap()
	for i := range 100000 {
		send(i)
	}
	after := heap()
	runtime.KeepAlive(stack) // the state under test must be live when measured
	growth := int64(after) - int64(before)
	t.Logf("live heap: %d KiB before, %d KiB after 100,000 requests (growth %d KiB)",
		before>>10, after>>10, growth>>10)
	if growth > 4<<20 {
		t.Fatalf("live heap grew by %d KiB over 100,000 requests across %d keys", growth>>10, keys)
	}
}
