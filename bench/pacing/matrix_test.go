package pacing

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestLimiterIsReal checks, per limiter, that it really limits (a naive
// unpaced burst gets 429s) and that the apiauth client gets its requests
// answered. The goodput targets are logged, not asserted.
func TestLimiterIsReal(t *testing.T) {
	for _, spec := range limiters {
		t.Run(spec.name, func(t *testing.T) {
			url := spec.start(t)
			n := 2*int(spec.rate+spec.burst) + workers
			var mu sync.Mutex
			codes := map[int]int{}
			var wg sync.WaitGroup
			hc := &http.Client{}
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := hc.Get(url)
					if err != nil {
						t.Error(err)
						return
					}
					_ = resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[http.StatusTooManyRequests] == 0 {
				t.Fatalf("a naive burst of %d requests got no 429: %v", n, codes)
			}

			r := run(t, spec, clients[0], time.Second)
			if r.ok == 0 {
				t.Fatalf("apiauth got no 2xx in 1 s (%d answers, %d errors, first error %v)", r.answers, r.errs, r.firstErr)
			}
			t.Logf("apiauth for 1 s: %d answers, %d ok, %d 429, %d errors; limited/op %.3f goodput/limit %.2f max silence %v; issue-11 misses: %v",
				r.answers, r.ok, r.limited, r.errs, r.limitedPerOp(), r.goodput, r.silence.Round(time.Millisecond), misses(spec, r))
		})
	}
}

// BenchmarkPacingMatrix runs every client against every limiter for 3 s per
// iteration, 16 goroutines on one key, and reports limited/op, goodput/limit
// and max-silence-ms (see run).
func BenchmarkPacingMatrix(b *testing.B) {
	const d = 3 * time.Second
	for _, spec := range limiters {
		b.Run(spec.name, func(b *testing.B) {
			for _, cl := range clients {
				b.Run(cl.name, func(b *testing.B) {
					var lim, good, sil, errs float64
					for range b.N {
						r := run(b, spec, cl, d)
						lim += r.limitedPerOp()
						good += r.goodput
						sil += float64(r.silence.Milliseconds())
						errs += float64(r.errs)
						if cl.name == "apiauth" {
							b.Logf("%s: %d answers, %d ok, %d 429, %d errors (first: %v); misses: %v; 200 headers %v; 429 headers %v",
								spec.algo, r.answers, r.ok, r.limited, r.errs, r.firstErr, misses(spec, r), rlHeaders(r.samples[200]), rlHeaders(r.samples[429]))
						}
					}
					n := float64(b.N)
					b.ReportMetric(lim/n, "limited/op")
					b.ReportMetric(good/n, "goodput/limit")
					b.ReportMetric(sil/n, "max-silence-ms")
					b.ReportMetric(errs/n, "errors/run")
				})
			}
		})
	}
}

// rlHeaders keeps the rate-limit headers of h.
func rlHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		switch k {
		case "Date", "Content-Type", "Content-Length", "X-Content-Type-Options", "X-Powered-By", "Etag", "Connection", "Keep-Alive":
			continue
		}
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
