package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

func observeBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

type observeKey struct{}

// observeLog records an Observer's events, each with the marker of the
// context it got, to check what context each event sees.
type observeLog struct {
	mu     sync.Mutex
	events []string
}

func (l *observeLog) add(ctx context.Context, format string, args ...any) {
	mark, _ := ctx.Value(observeKey{}).(string)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "["+mark+"] "+fmt.Sprintf(format, args...))
}

func (l *observeLog) observer() Observer {
	return Observer{
		CallStart: func(ctx context.Context, req *http.Request) context.Context {
			l.add(ctx, "call start %s %s", req.Method, req.URL.Host)
			return context.WithValue(ctx, observeKey{}, "call")
		},
		CallEnd: func(ctx context.Context, resp *http.Response, err error) {
			l.add(ctx, "call end %d %v", resp.StatusCode, err)
		},
		AttemptStart: func(ctx context.Context, req *http.Request, attempt int, reason string) context.Context {
			l.add(ctx, "attempt start %d %q auth=%q", attempt, reason, req.Header.Get("Authorization"))
			return context.WithValue(ctx, observeKey{}, fmt.Sprint("attempt", attempt))
		},
		AttemptEnd: func(ctx context.Context, resp *http.Response, err error) {
			l.add(ctx, "attempt end %d %v", resp.StatusCode, err)
		},
		Wait: func(ctx context.Context, cause string, d time.Duration) {
			l.add(ctx, "wait %s %s", cause, d)
		},
		RateLimit: func(ctx context.Context, host, identity string, rl RateLimit) {
			l.add(ctx, "rate limit %s %s remaining=%d", host, identity, rl.Remaining)
		},
	}
}

// TestObserverEvents checks the events of one call answered 429 once (with
// a retry_after the retry layer honours) and then 200 (after a pause of
// the pacer, if it pauses), the context each
// event gets, and that the attempt's request carries the context
// AttemptStart returned down to the base transport.
func TestObserverEvents(t *testing.T) {
	synctest.Test(t, testObserverEvents)
}

func testObserverEvents(t *testing.T) {
	var n int
	var baseMarks []string
	base := testrt.Func(func(req *http.Request) (*http.Response, error) {
		mark, _ := req.Context().Value(observeKey{}).(string)
		baseMarks = append(baseMarks, mark)
		n++
		h := http.Header{"X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Remaining": {fmt.Sprint(10 - n)}}
		if n == 1 {
			h.Set("Content-Type", "application/json")
			return &http.Response{StatusCode: 429, Header: h, Body: observeBody(`{"retry_after":0.001}`), ContentLength: 21, Request: req}, nil
		}
		return &http.Response{StatusCode: 200, Header: h, Body: observeBody(`{}`), Request: req}, nil
	})
	var log observeLog
	s, err := New(base, Options{
		Auth: AuthOptions{Credential: CredentialFunc(func(_ context.Context, h http.Header) error {
			h.Set("Authorization", "Bearer canary-secret")
			return nil
		}), Origin: "https://api.example"},
		Pace:     PaceOptions{Identity: func(*http.Request) string { return "id-1" }},
		Observer: log.observer(),
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://api.example/v1/x?q=1", nil)
	resp, err := s.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip: %v, %v", resp, err)
	}
	resp.Body.Close()
	want := []string{
		`[] call start GET api.example`,
		`[call] attempt start 1 "" auth=""`,
		`[attempt1] rate limit api.example id-1 remaining=9`,
		`[attempt1] attempt end 429 <nil>`,
		`[call] wait retry_after 1ms`,
		`[call] attempt start 2 "status_429" auth=""`,
		`[attempt2] rate limit api.example id-1 remaining=8`,
		`[attempt2] attempt end 200 <nil>`,
		`[call] call end 200 <nil>`,
	}
	// The pacer may pause the second attempt (it spreads what is left
	// over the window); such a pause is the attempt's, whatever its
	// length, which the pacer's algorithm decides.
	var got []string
	for _, e := range log.events {
		if strings.Contains(e, "wait pace") {
			if !strings.HasPrefix(e, "[attempt2] wait pace ") {
				t.Errorf("pace wait %q, want one on the second attempt's context", e)
			}
			continue
		}
		got = append(got, e)
	}
	if got := strings.Join(got, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if strings.Join(baseMarks, ",") != "attempt1,attempt2" {
		t.Errorf("base saw contexts %q, want attempt1,attempt2", baseMarks)
	}
	if strings.Contains(strings.Join(log.events, "\n"), "canary") {
		t.Error("an event shows the credential")
	}
}

// TestObserverZeroValue checks that a zero Observer leaves the stack on its
// unobserved path, and that a partial one works.
func TestObserverZeroValue(t *testing.T) {
	base := testrt.Func(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: observeBody(""), Request: req}, nil
	})
	s, err := New(base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.obs != nil || s.retry.obs != nil || s.pace.obs != nil {
		t.Fatal("a zero Observer is active")
	}
	var waits int
	s, err = New(base, Options{Observer: Observer{Wait: func(context.Context, string, time.Duration) { waits++ }}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://api.example/", nil)
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if waits != 0 {
		t.Errorf("%d waits reported for a call that waited for nothing", waits)
	}
}
