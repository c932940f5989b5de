package transport

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

type ctxTraceKey struct{}

// ctxTraceHandler records the message of every record and the trace id
// its context carries.
type ctxTraceHandler struct {
	mu   sync.Mutex
	recs map[string]string // message -> trace
}

func (h *ctxTraceHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxTraceHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, _ := ctx.Value(ctxTraceKey{}).(string)
	h.recs[r.Message] = s
	return nil
}
func (h *ctxTraceHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *ctxTraceHandler) WithGroup(string) slog.Handler      { return h }

// TestStackLogsWithRequestContext: every record the layers log for a
// request (Pace's snapshot, pause and refusal, Retry's retry and give-up,
// Auth's 401 retry) is emitted with the request's context, so that a
// handler reading a trace id from it finds the request's.
func TestStackLogsWithRequestContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &ctxTraceHandler{recs: map[string]string{}}
		logger := slog.New(h)
		var mu sync.Mutex
		calls := 0
		base := testrt.Func(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			hd := http.Header{}
			status := http.StatusOK
			switch calls {
			case 1:
				status = http.StatusUnauthorized
			case 2:
				status = http.StatusServiceUnavailable
			}
			hd.Set("X-RateLimit-Limit", "10")
			hd.Set("X-RateLimit-Remaining", "0")
			hd.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(2*time.Second).Unix(), 10))
			return &http.Response{StatusCode: status, Header: hd, Body: http.NoBody, Request: req}, nil
		})
		inv := &ctxInvalidator{}
		s, err := New(base, Options{
			Retry: RetryOptions{Logger: logger},
			Pace:  PaceOptions{Logger: logger, MaxWait: 5 * time.Second},
			Auth:  AuthOptions{Credential: inv, Origin: "https://api.example.com", Logger: logger},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.WithValue(t.Context(), ctxTraceKey{}, "trace-1")
		resp, err := s.RoundTrip(rlGet(t, ctx, "https://api.example.com/v1/x"))
		if err != nil {
			t.Fatal(err)
		}
		rlDrain(resp)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, msg := range []string{
			"apiauth: rate limit: snapshot",
			"apiauth: rate limit: pause",
			"apiauth: retrying request",
			"apiauth: 401: retrying once with a renewed credential",
		} {
			trace, ok := h.recs[msg]
			if !ok {
				t.Errorf("no %q record; got %v", msg, h.recs)
			} else if trace != "trace-1" {
				t.Errorf("%q logged with trace %q, want trace-1", msg, trace)
			}
		}
	})
}

// ctxInvalidator is a renewable credential with no secret.
type ctxInvalidator struct{}

func (*ctxInvalidator) Apply(_ context.Context, h http.Header) (any, error) {
	h.Set("Authorization", "Bearer x")
	return 1, nil
}
func (*ctxInvalidator) InvalidateCredential(any) bool { return true }
