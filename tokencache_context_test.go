package apiauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Issue 14: a refresh started by a call carries that call's context values
// (trace ids, log correlation), never its cancellation.

type traceKey struct{}

func withTrace(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

func traceOf(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

// traceHandler is a slog.Handler that records, for every record, its
// message and the trace id its context carries, as a handler that adds
// trace ids to log lines would read it.
type traceHandler struct {
	mu   sync.Mutex
	recs []traceRecord
}

type traceRecord struct{ msg, trace string }

func (h *traceHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, traceRecord{r.Message, traceOf(ctx)})
	return nil
}
func (h *traceHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *traceHandler) WithGroup(string) slog.Handler      { return h }

func (h *traceHandler) records() []traceRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]traceRecord(nil), h.recs...)
}

// TestCacheRefreshContextCarriesCallerValues: the first fetch, a
// refresh-ahead and a failed refresh each run on a context carrying the
// values of the call that started them, and the cache's log records are
// emitted with it.
func TestCacheRefreshContextCarriesCallerValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		fail := false
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, traceOf(ctx))
			if fail {
				return nil, errors.New("endpoint down")
			}
			return &Token{AccessToken: "tok-" + strconv.Itoa(len(seen)), Expiry: time.Now().Add(time.Hour)}, nil
		})
		h := &traceHandler{}
		c := NewTokenCache(src, &CacheOptions{Logger: slog.New(h)})
		defer c.Close()

		if _, err := c.Token(withTrace(context.Background(), "first")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(56 * time.Minute) // stale: the next call refreshes ahead
		if _, err := c.Token(withTrace(context.Background(), "ahead")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Hour) // expired: the next call waits, and the refresh fails
		mu.Lock()
		fail = true
		mu.Unlock()
		if _, err := c.Token(withTrace(context.Background(), "failing")); !errors.Is(err, ErrTokenRefresh) {
			t.Fatalf("err = %v, want ErrTokenRefresh", err)
		}

		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		want := []string{"first", "ahead", "failing"}
		if len(got) != len(want) {
			t.Fatalf("source saw traces %q, want %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("source saw traces %q, want %q", got, want)
			}
		}
		recs := h.records()
		wantRecs := []traceRecord{
			{"apiauth: token refreshed", "first"},
			{"apiauth: token refreshed", "ahead"},
			{"apiauth: token refresh failed", "failing"},
		}
		if len(recs) != len(wantRecs) {
			t.Fatalf("log records %+v, want %+v", recs, wantRecs)
		}
		for i := range wantRecs {
			if recs[i] != wantRecs[i] {
				t.Errorf("log record %d = %+v, want %+v", i, recs[i], wantRecs[i])
			}
		}
	})
}

// TestCacheCallerCancelDoesNotCancelSharedRefresh: the caller that started
// a refresh gives up (its context is cancelled, and it had a deadline);
// the refresh it started goes on, with its values, for the other waiter.
func TestCacheCallerCancelDoesNotCancelSharedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		srcCtx := make(chan context.Context, 1)
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			srcCtx <- ctx
			select {
			case <-release:
				return &Token{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		c := NewTokenCache(src, &CacheOptions{RefreshTimeout: time.Minute})
		defer c.Close()

		ctxA, cancelA := context.WithTimeout(withTrace(context.Background(), "A"), time.Second)
		defer cancelA()
		errA := make(chan error, 1)
		go func() { _, err := c.Token(ctxA); errA <- err }()
		rctx := <-srcCtx // the refresh A started is running
		errB := make(chan error, 1)
		go func() { _, err := c.Token(withTrace(context.Background(), "B")); errB <- err }()
		synctest.Wait()

		cancelA()
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Fatalf("A: err = %v, want context.Canceled", err)
		}
		if err := rctx.Err(); err != nil {
			t.Fatalf("the shared refresh ended with its starter: %v", err)
		}
		if got := traceOf(rctx); got != "A" {
			t.Errorf("refresh context trace = %q, want A", got)
		}
		if dl, ok := rctx.Deadline(); !ok || time.Until(dl) < 59*time.Second {
			t.Errorf("refresh deadline = %v, %v: want RefreshTimeout's, not the caller's", dl, ok)
		}
		time.Sleep(2 * time.Second) // past A's deadline
		if err := rctx.Err(); err != nil {
			t.Fatalf("the shared refresh ended at its starter's deadline: %v", err)
		}
		close(release)
		if err := <-errB; err != nil {
			t.Fatalf("B: %v", err)
		}
	})
}

// TestCacheCloseCancelsCallerRefresh: Close cancels a refresh whatever the
// context of the call that started it, and RefreshTimeout bounds it.
func TestCacheCloseCancelsCallerRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srcCtx := make(chan context.Context, 2)
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			srcCtx <- ctx
			<-ctx.Done()
			return nil, ctx.Err()
		})
		c := NewTokenCache(src, &CacheOptions{RefreshTimeout: time.Minute})
		// A caller whose context never ends.
		errc := make(chan error, 1)
		go func() { _, err := c.Token(withTrace(context.Background(), "A")); errc <- err }()
		rctx := <-srcCtx
		synctest.Wait()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := rctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("after Close the refresh context's Err = %v, want context.Canceled", err)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("caller: err = %v, want ErrClosed", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		c := NewTokenCache(src, &CacheOptions{RefreshTimeout: time.Minute})
		defer c.Close()
		start := time.Now()
		_, err := c.Token(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Fatalf("err = %v after %v, want DeadlineExceeded after RefreshTimeout", err, time.Since(start))
		}
	})
}

// TestCache401RefreshCarriesRequestValues: the refresh that a 401 causes
// (transport.Auth calls InvalidateCredential, then Apply) runs with the
// values of the request's context.
func TestCache401RefreshCarriesRequestValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		src := TokenSourceFunc(func(ctx context.Context) (*Token, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, traceOf(ctx))
			return &Token{AccessToken: "tok-" + strconv.Itoa(len(seen)), Expiry: time.Now().Add(time.Hour)}, nil
		})
		h := &traceHandler{}
		c := NewTokenCache(src, &CacheOptions{Logger: slog.New(h)})
		defer c.Close()
		tok, err := c.Token(withTrace(context.Background(), "first"))
		if err != nil {
			t.Fatal(err)
		}
		if !c.InvalidateCredential(tok) {
			t.Fatal("InvalidateCredential did not drop the current token")
		}
		if c.InvalidateCredential(tok) {
			t.Fatal("a second InvalidateCredential dropped it again")
		}
		synctest.Wait()
		hdr := http.Header{}
		if _, err := c.Apply(withTrace(context.Background(), "retry"), hdr); err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get("Authorization"); got != "Bearer tok-2" {
			t.Fatalf("Authorization after the 401 = %q, want the new token", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2 || seen[1] != "retry" {
			t.Fatalf("source saw traces %q, want [first retry]", seen)
		}
		recs := h.records()
		if last := recs[len(recs)-1]; last != (traceRecord{"apiauth: token refreshed", "retry"}) {
			t.Errorf("last log record = %+v, want the refresh logged with the retry's trace", last)
		}
	})
}
