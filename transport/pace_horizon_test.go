package transport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// paceFarVariants are one answer each that says "nothing left" until far
// ahead (issue 13 row 4): a reset in the year 9999, a reset a day ahead
// (a server clock running a day fast), a RateLimit-Policy window of 1e9 s.
// healthy is what the same server says once it has recovered.
var paceFarVariants = []struct {
	name    string
	status  int
	bad     func(now time.Time) []string
	healthy func(now time.Time, left int64) []string
}{
	{
		name: "reset in 9999", status: http.StatusTooManyRequests,
		bad: func(time.Time) []string {
			return []string{"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "253402300799000"} // epoch ms, 9999-12-31
		},
		healthy: paceHealthyX,
	},
	{
		name: "reset a day ahead (clock skew)", status: http.StatusTooManyRequests,
		bad: func(now time.Time) []string {
			return []string{"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", strconv.FormatInt(now.Add(25*time.Hour).Unix(), 10)}
		},
		healthy: paceHealthyX,
	},
	{
		name: "policy window of 1e9 s", status: http.StatusOK,
		bad: func(time.Time) []string {
			return []string{"RateLimit-Policy", "100;w=1000000000", "RateLimit-Limit", "100", "RateLimit-Remaining", "0"}
		},
		healthy: func(_ time.Time, left int64) []string {
			return []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100",
				"RateLimit-Remaining", strconv.FormatInt(left, 10), "RateLimit-Reset", "30"}
		},
	},
}

func paceHealthyX(now time.Time, left int64) []string {
	return []string{"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", strconv.FormatInt(left, 10),
		"X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Minute).Unix(), 10)}
}

// paceFarServer answers its first request with the variant's bad answer and
// every later one with a healthy answer, counting calls.
func paceFarServer(calls *atomic.Int64, status int, bad func(time.Time) []string, healthy func(time.Time, int64) []string) testrt.Func {
	return func(req *http.Request) (*http.Response, error) {
		n := calls.Add(1)
		kv, st := healthy(time.Now(), max(100-n, 1)), http.StatusOK
		if n == 1 {
			kv, st = bad(time.Now()), status
		}
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: st, Header: h, Body: http.NoBody, Request: req}, nil
	}
}

// After one answer with nothing left until far ahead, requests fail fast
// with a *RateLimitError for at most the refusal horizon, max(MaxWait,
// PaceProbeInterval); then one probe reaches the (now healthy) server and
// traffic resumes.
func TestPaceFarResetProbesWithinHorizon(t *testing.T) {
	for _, v := range paceFarVariants {
		t.Run(v.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int64
				p := &Pace{Base: paceFarServer(&calls, v.status, v.bad, v.healthy)}
				horizon := max(DefaultPaceMaxWait, PaceProbeInterval)
				resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/v1/files"))
				if err != nil {
					t.Fatal(err)
				}
				rlDrain(resp)
				start := time.Now()
				const step = 5 * time.Second
				refused, firstHit := 0, time.Duration(-1)
				okAfter := 0
				for elapsed := time.Duration(0); elapsed < 10*time.Minute; elapsed += step {
					before, began := calls.Load(), time.Now()
					resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/v1/files"))
					waited := time.Since(began)
					switch {
					case err != nil:
						var rle *RateLimitError
						if !errors.As(err, &rle) {
							t.Fatalf("at +%s: error %v is not a *RateLimitError", time.Since(start), err)
						}
						if waited != 0 || calls.Load() != before {
							t.Errorf("at +%s: refusal took %s and %d calls, want at once and none", time.Since(start), waited, calls.Load()-before)
						}
						if firstHit >= 0 {
							t.Errorf("at +%s: refused after the probe reached the healthy server: %v", time.Since(start), err)
						}
						refused++
					default:
						rlDrain(resp)
						if resp.StatusCode != http.StatusOK {
							t.Errorf("at +%s: status %d", time.Since(start), resp.StatusCode)
						}
						if firstHit < 0 {
							firstHit = time.Since(start)
						} else {
							okAfter++
						}
					}
					time.Sleep(step - waited%step)
				}
				if firstHit < 0 || firstHit > horizon+step {
					t.Fatalf("first request to reach the server after the far answer at +%s, want within %s; %d refused", firstHit, horizon+step, refused)
				}
				if okAfter < 100 {
					t.Errorf("only %d requests succeeded after the probe: traffic did not resume", okAfter)
				}
				if v.status == http.StatusTooManyRequests && refused == 0 {
					t.Errorf("no request was refused after the far reset: want fail-fast until the probe")
				}
				t.Logf("%d refused, probe at +%s, %d ok after, %d calls", refused, firstHit, okAfter, calls.Load())
			})
		})
	}
}

// A learned reset or window is capped at PaceMaxReset: with no maximum
// wait (and so no probe), a request after a reset in the year 9999 waits
// 24 h, not millennia.
func TestPaceFarResetCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		p := &Pace{Base: paceFarServer(&calls, paceFarVariants[0].status, paceFarVariants[0].bad, paceFarVariants[0].healthy),
			PaceOptions: PaceOptions{MaxWait: -1}}
		resp, err := p.RoundTrip(rlGet(t, t.Context(), "https://api.example.com/"))
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		ctx, cancel := context.WithTimeout(t.Context(), 48*time.Hour)
		defer cancel()
		began := time.Now()
		resp, err = p.RoundTrip(rlGet(t, ctx, "https://api.example.com/"))
		if err != nil {
			t.Fatalf("after %s: %v", time.Since(began), err)
		}
		rlDrain(resp)
		if waited := time.Since(began); waited != PaceMaxReset {
			t.Errorf("waited %s, want the cap %s", waited, PaceMaxReset)
		}

		// A window from RateLimit-Policy is capped alike.
		e := &paceEntry{}
		now := time.Now()
		e.complete(now, paceTicket{sent: now}, http.StatusOK, RateLimit{Present: true, Limit: 10, Remaining: 5, Used: 5,
			Window: 1e9 * time.Second, Reset: now.Add(time.Minute)}, ResetDelta)
		if e.window != PaceMaxReset {
			t.Errorf("window %s, want the cap %s", e.window, PaceMaxReset)
		}
	})
}
