package pacing

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTrace prints every answer apiauth gets from one limiter in 2 s: its
// offset from the start, wall-clock time, status and rate-limit headers. It is a diagnostic,
// skipped unless PACING_TRACE names a row:
//
//	PACING_TRACE=ulule-fixed-firsthit go test -v -run TestTrace
func TestTrace(t *testing.T) {
	want := os.Getenv("PACING_TRACE")
	if want == "" {
		t.Skip("set PACING_TRACE=<limiter> to trace one row")
	}
	for _, spec := range limiters {
		if spec.name != want {
			continue
		}
		tr := &tracer{}
		cl := clients[0]
		build := cl.build
		cl.build = func(s limiterSpec, wire http.RoundTripper) func(*http.Request) (*http.Response, error) {
			tr.base, tr.t0 = wire, time.Now()
			return build(s, tr)
		}
		run(t, spec, cl, 2*time.Second)
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, l := range tr.lines {
			t.Log(l)
		}
		return
	}
	t.Fatalf("no limiter named %q", want)
}

type tracer struct {
	base  http.RoundTripper
	t0    time.Time
	mu    sync.Mutex
	lines []string
}

func (tr *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	var hs []string
	for k, v := range rlHeaders(resp.Header) {
		if !strings.Contains(k, "Addr") {
			hs = append(hs, k+": "+v)
		}
	}
	sort.Strings(hs)
	tr.mu.Lock()
	tr.lines = append(tr.lines, fmt.Sprintf("%6.3fs (Unix %.3f) %d %s", time.Since(tr.t0).Seconds(), float64(time.Now().UnixMilli())/1000, resp.StatusCode, strings.Join(hs, "; ")))
	tr.mu.Unlock()
	return resp, err
}
