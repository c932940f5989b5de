package apiauth

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

type refreshMark struct{}

// TestCacheRefreshHooks checks OnRefreshStart and OnRefreshEnd: the start
// hook sees the caller's context values, the source runs on the context it
// returns, the end hook gets that context and the outcome, and the refresh
// is over (the end hook has returned) when the call that waited returns.
func TestCacheRefreshHooks(t *testing.T) {
	type event struct {
		what, trace string
		marked      bool
		err         error
	}
	var events []event // refreshes run one at a time, and Token waits for them
	fail := errors.New("source down")
	var next error
	cache := NewTokenCache(TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		events = append(events, event{what: "source", trace: traceOf(ctx), marked: ctx.Value(refreshMark{}) != nil})
		if next != nil {
			return nil, next
		}
		return &Token{AccessToken: "tok-" + strconv.FormatInt(time.Now().UnixNano(), 10), Expiry: time.Now().Add(time.Hour)}, nil
	}), &CacheOptions{
		MinBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond,
		OnRefreshStart: func(ctx context.Context) context.Context {
			events = append(events, event{what: "start", trace: traceOf(ctx)})
			return context.WithValue(ctx, refreshMark{}, true)
		},
		OnRefreshEnd: func(ctx context.Context, err error) {
			events = append(events, event{what: "end", trace: traceOf(ctx), marked: ctx.Value(refreshMark{}) != nil, err: err})
		},
	})
	defer cache.Close()

	if _, err := cache.Token(withTrace(context.Background(), "t1")); err != nil {
		t.Fatal(err)
	}
	want := []event{{"start", "t1", false, nil}, {"source", "t1", true, nil}, {"end", "t1", true, nil}}
	if len(events) != 3 || events[0] != want[0] || events[1] != want[1] || events[2] != want[2] {
		t.Fatalf("events %+v, want %+v", events, want)
	}

	// A failed refresh: the end hook gets the cause.
	events, next = nil, fail
	cache.invalidate(cache.cur.Load().tok, false)
	if _, err := cache.Token(withTrace(context.Background(), "t2")); !errors.Is(err, fail) {
		t.Fatalf("Token after a failed refresh: %v, want %v", err, fail)
	}
	if n := len(events); n != 3 || events[2].what != "end" || !errors.Is(events[2].err, fail) || events[2].trace != "t2" {
		t.Fatalf("events %+v, want start, source, end with %v", events, fail)
	}
}
