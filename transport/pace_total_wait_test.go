package transport

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// MaxWait bounds a request's whole wait, not each pause: answers from
// requests in flight that keep moving the reset out must not add pauses up
// past it (issue 13, row 10: 2.86 s of waiting under a MaxWait of 1 s,
// each pause under 1 s).
func TestPaceMaxWaitBoundsTheWholeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // a whole second in the bubble
		var n atomic.Int32
		var mu sync.Mutex
		sentAt := map[string]time.Duration{} // when each tagged request reached Base
		base := testrt.Func(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			sentAt[req.Header.Get("X-Tag")] = time.Since(start)
			mu.Unlock()
			h := http.Header{}
			h.Set("X-RateLimit-Limit", "2") // small: a fixed window, not a sliding one
			if n.Add(1) == 1 {
				// The first answer: one left until start+4s.
				h.Set("X-RateLimit-Remaining", "1")
				h.Set("X-RateLimit-Reset", strconv.FormatInt(start.Add(4*time.Second).Unix(), 10))
			} else {
				// A slow request, answered after the reset, whose answer
				// moves the reset to start+8s: the late request pauses
				// 4 s for the first reset, then 3.5 s for the second,
				// each under MaxWait, 8 s in all.
				time.Sleep(3 * time.Second)
				h.Set("X-RateLimit-Remaining", "0")
				h.Set("X-RateLimit-Reset", strconv.FormatInt(start.Add(8*time.Second).Unix(), 10))
			}
			return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
		})
		const maxWait = 5 * time.Second
		p := &Pace{Base: base, PaceOptions: PaceOptions{MaxWait: maxWait}}
		get := func(tag string) (*http.Response, error) {
			req := rlGet(t, t.Context(), "https://api.example.com/v1/files")
			req.Header.Set("X-Tag", tag)
			return p.RoundTrip(req)
		}
		resp, err := get("first")
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		var wg sync.WaitGroup
		for range 1 { // take the one left
			wg.Go(func() {
				if resp, err := get("slow"); err == nil {
					rlDrain(resp)
				}
			})
			synctest.Wait()
		}
		began := time.Since(start)
		resp, err = get("late")
		waited := time.Since(start) - began // refused: the whole wait
		if err == nil {
			rlDrain(resp)
			mu.Lock()
			waited = sentAt["late"] - began
			mu.Unlock()
		}
		wg.Wait()
		if waited > maxWait {
			t.Errorf("the request waited %v in all, past MaxWait %v (err %v)", waited, maxWait, err)
		}
		var rl *RateLimitError
		if err != nil && !errors.As(err, &rl) {
			t.Errorf("err = %v, want a *RateLimitError", err)
		}
	})
}
