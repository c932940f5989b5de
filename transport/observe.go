package transport

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Observer receives the events of a stack built by [New], for tracing and
// metrics, in the spirit of net/http/httptrace: the nested module
// github.com/apiauth/apiauth/otel/apiauthotel turns them into OpenTelemetry
// spans and metrics, and this package imports nothing of OpenTelemetry.
//
// Every field is optional and the zero value observes nothing; an unset
// field costs one nil check where its event happens. The functions run on
// the goroutine of the request, must be safe for concurrent use and should
// return quickly. They must not modify or read the body of a request or
// response they are given. A function returning a context returns ctx
// itself or a context derived from it (for example one carrying a span);
// the stack carries on with that context. None of the events carries a
// secret: identities are the non-secret ones of [PaceOptions.Identity],
// and requests are shown before the credential layer adds its header (a
// request's own headers are the caller's).
//
// The event order for one call is CallStart, then for each attempt
// AttemptStart, any number of Wait (cause "pace" or "shared_budget") and
// RateLimit, AttemptEnd, then a Wait (cause "retry_after" or "backoff")
// before the next attempt, and CallEnd. A token refresh an attempt causes
// is reported by the token cache (see apiauth.CacheOptions.OnRefreshStart),
// on a context carrying the attempt's values.
type Observer struct {
	// CallStart is called when a logical call enters the stack
	// ([Stack.RoundTrip], the entry of apiauth.Client.Do and of the
	// Client's HTTPClient; each redirect hop is a call of its own).
	CallStart func(ctx context.Context, req *http.Request) context.Context
	// CallEnd is called when the call leaves the stack, with the context
	// CallStart returned and the stack's outcome: resp is nil when err is
	// not. The body of resp has not been read yet.
	CallEnd func(ctx context.Context, resp *http.Response, err error)

	// AttemptStart is called before each attempt the retry layer makes,
	// with its number (1 for the first) and, from the second on, the
	// reason it is made: "status_NNN" after an answer with status NNN,
	// "error" after a connection error. The request is the attempt's.
	AttemptStart func(ctx context.Context, req *http.Request, attempt int, reason string) context.Context
	// AttemptEnd is called when the attempt's answer (or error) is back,
	// with the context AttemptStart returned.
	AttemptEnd func(ctx context.Context, resp *http.Response, err error)

	// Wait is called before each pause the stack takes, with its cause and
	// planned length: "pace" (the rate-limit layer spreading requests over
	// the server's budget, on the attempt's context), "shared_budget" (a
	// slot of a fleet-wide budget, see [PaceOptions.Shared]), "retry_after"
	// (a wait the server asked for, by Retry-After, retry_after or
	// X-RateLimit-Reset) and "backoff" (the retry layer's own backoff, both
	// on the call's context).
	Wait func(ctx context.Context, cause string, d time.Duration)

	// RateLimit is called with every rate-limit snapshot parsed from an
	// answer, with the request's host and credential identity (the value
	// of [PaceOptions.Identity], never a secret), on the attempt's context.
	RateLimit func(ctx context.Context, host, identity string, rl RateLimit)
}

// active returns o when any of its fields is set, else nil, so that the
// layers check one pointer on their hot path.
func (o *Observer) active() *Observer {
	if o.CallStart == nil && o.CallEnd == nil && o.AttemptStart == nil && o.AttemptEnd == nil &&
		o.Wait == nil && o.RateLimit == nil {
		return nil
	}
	return o
}

// wait reports a pause; o may be nil.
func (o *Observer) wait(ctx context.Context, cause string, d time.Duration) {
	if o != nil && o.Wait != nil {
		o.Wait(ctx, cause, d)
	}
}

// observeReason is the reason for a retry after resp or err.
func observeReason(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return "error"
	}
	return "status_" + strconv.Itoa(resp.StatusCode)
}
