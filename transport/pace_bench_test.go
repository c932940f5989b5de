package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The throughput benchmark's server and load.
const (
	benchLimit   = 50          // requests allowed per window
	benchWindow  = time.Second // window length, aligned to the clock
	benchWorkers = 16          // concurrent callers
	benchRun     = 8 * benchWindow
)

// BenchmarkRateLimitedThroughput runs 16 workers for eight one-second
// windows against a loopback server that allows 50 requests per window and
// answers AudiModal-style (X-RateLimit-* headers with an epoch-seconds reset;
// 429 with Retry-After and a RATE_LIMIT_EXCEEDED body carrying retry_after),
// once as a clock-aligned fixed window and once as a sliding window (the
// previous window's count weighted by how much of it still overlaps).
//
// Clients:
//   - apiauth: Pace over a cloned http.Transport. There is no retry layer
//     here: a worker that gets a 429 counts it (on the server) and moves on
//     to its next request, which Pace holds back as the 429's headers say.
//   - retryablehttp-default: retryablehttp.NewClient() with its defaults
//     (up to four retries, 429 retried after Retry-After), logging off.
//
// Metrics: limited/op is the share of the server's answers that were 429;
// goodput/limit is the number of 2xx answers divided by what the limit
// allows over the run (50 × 8). ns/op is wall time per answer. Each run
// lasts eight windows whatever b.N is, so the framework runs it once.
func BenchmarkRateLimitedThroughput(b *testing.B) {
	for _, server := range []struct {
		name    string
		sliding bool
	}{{"fixed-window", false}, {"sliding-window", true}} {
		b.Run(server.name, func(b *testing.B) {
			for _, client := range []string{"apiauth", "retryablehttp-default"} {
				b.Run(client, func(b *testing.B) { benchThroughput(b, server.sliding, client) })
			}
		})
	}
}

func benchThroughput(b *testing.B, sliding bool, clientName string) {
	lim := &rlWindowLimiter{limit: benchLimit, window: benchWindow, sliding: sliding}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lim.respond(time.Now(), w)
	}))
	defer srv.Close()

	var client *http.Client
	switch clientName {
	case "apiauth":
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = benchWorkers
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: &Pace{Base: tr}}
	case "retryablehttp-default":
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		defer rc.HTTPClient.CloseIdleConnections()
		client = rc.StandardClient()
	}

	start := time.Now()
	lim.mu.Lock()
	lim.stopAt = start.Add(benchRun)
	lim.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(benchRun))
	defer cancel()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/files", nil)
				if err != nil {
					b.Error(err)
					return
				}
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()

	served, refused := lim.counts()
	answers := served + refused
	if answers == 0 {
		b.Fatal("the server answered nothing")
	}
	allowed := float64(benchLimit) * float64(benchRun) / float64(benchWindow)
	b.ReportMetric(float64(refused)/float64(answers), "limited/op")
	b.ReportMetric(float64(served)/allowed, "goodput/limit")
	b.ReportMetric(float64(benchRun.Nanoseconds())/float64(answers), "ns/op")
}
