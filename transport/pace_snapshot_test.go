package transport

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// TestPaceState: the snapshot reports, per host and identity, what the
// answers said (limit, remaining, reset, a RateLimit-Policy window), the
// requests in flight, most recently used first; it shows the identity's
// hash, never the credential.
func TestPaceState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const secret = "Bearer sk_live_CANARY_81f0"
		release := make(chan struct{})
		reset := time.Now().Add(30 * time.Second).Truncate(time.Second)
		base := testrt.Func(func(req *http.Request) (*http.Response, error) {
			if req.URL.Host == "slow.example.com" {
				<-release
			}
			h := http.Header{}
			h.Set("RateLimit-Policy", `"default";q=100;w=60`)
			h.Set("RateLimit", `"default";r=42;t=30`)
			return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody, Request: req}, nil
		})
		s, err := New(base, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if st := s.RateLimitState(); len(st) != 0 {
			t.Fatalf("before any request: %+v", st)
		}
		req := rlGet(t, t.Context(), "https://api.example.com/v1/x")
		req.Header.Set("Authorization", secret)
		resp, err := s.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := s.RoundTrip(rlGet(t, t.Context(), "https://slow.example.com/"))
			if err == nil {
				rlDrain(resp)
			}
		}()
		synctest.Wait()

		st := s.RateLimitState()
		if len(st) != 2 {
			t.Fatalf("%d states, want 2: %+v", len(st), st)
		}
		slow, api := st[0], st[1]
		if slow.Host != "slow.example.com" || slow.InFlight != 1 || slow.Limit != -1 || slow.Remaining != -1 || !slow.Reset.IsZero() {
			t.Errorf("slow host, one request in flight, no answer yet: %+v", slow)
		}
		id := DefaultIdentity(req)
		want := PaceState{Host: "api.example.com", Identity: id, Limit: 100, Remaining: 42, Reset: reset,
			Window: time.Minute, Observed: time.Now().Round(0)}
		if api != want {
			t.Errorf("state = %+v\nwant    %+v", api, want)
		}
		for _, form := range []string{fmt.Sprintf("%v", st), fmt.Sprintf("%+v", st), fmt.Sprintf("%#v", st), string(must(json.Marshal(st)))} {
			if strings.Contains(form, "sk_live") || strings.Contains(form, "CANARY") {
				t.Errorf("a rendering shows the credential: %s", form)
			}
		}
		close(release)
		<-done
		if st := s.RateLimitState(); st[0].InFlight != 0 || st[0].Limit != 100 {
			t.Errorf("after the slow answer: %+v", st[0])
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
