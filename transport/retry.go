package transport

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiauth/apiauth/internal/drain"
	"github.com/apiauth/apiauth/internal/errkind"
	"github.com/hashicorp/go-retryablehttp"
)

// Defaults of [Retry], used for zero fields. TestRetryDocumentedDefaults
// checks that the field documentation states these values.
const (
	// DefaultRetryMaxAttempts is the number of attempts, the first included.
	DefaultRetryMaxAttempts = 4
	// DefaultRetryMinBackoff is the first backoff step.
	DefaultRetryMinBackoff = 250 * time.Millisecond
	// DefaultRetryMaxBackoff caps the backoff.
	DefaultRetryMaxBackoff = 10 * time.Second
	// DefaultRetryMaxWait is the longest server-supplied wait slept.
	DefaultRetryMaxWait = 60 * time.Second
	// DefaultRetryMaxBufferedBody is the largest request body copied for
	// replay when GetBody is nil.
	DefaultRetryMaxBufferedBody = 1 << 20 // 1 MiB

	// retryPeekLimit bounds how much of a 429 or 503 body is read to find
	// a retry_after field.
	retryPeekLimit = 64 << 10
	// retryDrainLimit bounds how much of a response that will be retried
	// is read before it is closed, so that its connection can be reused.
	retryDrainLimit = 64 << 10

	// retryExhausted is the reason for stopping after MaxAttempts.
	retryExhausted = "attempts exhausted"
)

// RetryOptions configures a [Retry] layer. It is a plain value: the zero
// value means every default documented on its fields, and one value may
// configure any number of layers (see [New]).
type RetryOptions struct {
	// MaxAttempts is the number of attempts in total, the first included.
	// Zero means 4 (one attempt and up to three retries); one or a negative
	// value disables retries.
	MaxAttempts int

	// MinBackoff is the first backoff step, passed to Backoff as min. Zero
	// means 250ms; so does a negative value.
	MinBackoff time.Duration

	// MaxBackoff caps the backoff, passed to Backoff as max. Zero means 10s;
	// so does a negative value.
	MaxBackoff time.Duration

	// MaxWait is the longest server-supplied wait (Retry-After, retry_after,
	// X-RateLimit-Reset) the layer sleeps; when the server asks for longer,
	// the response is returned at once. Zero means 60s; a negative value
	// means never sleep for the server, so every response that asks for a
	// wait is returned at once.
	MaxWait time.Duration

	// MaxBufferedBody is the largest request body, in bytes, copied into
	// memory so it can be sent again when Request.GetBody is nil. Zero means
	// 1 MiB; a negative value means never copy (only bodies with GetBody are
	// replayed).
	MaxBufferedBody int64

	// AddIdempotencyKey makes the layer add an Idempotency-Key header, a
	// random UUID, to requests whose method is not idempotent (POST, PATCH
	// and others outside the table above) and that carry none, so that they
	// become retryable. The key is chosen once per RoundTrip and sent
	// unchanged on every attempt; the caller's request is not modified. The
	// server must honour the key for this to be safe. False (the zero value)
	// adds nothing.
	AddIdempotencyKey bool

	// ShouldRetry decides whether an attempt's outcome is worth another
	// attempt; resp is nil when err is not. It sees the attempt's request
	// (a clone carrying any added Idempotency-Key) and must not read or close
	// resp.Body. Attempts, the budget, MaxWait and the context still bound
	// the retries it allows. Nil means [DefaultShouldRetry].
	ShouldRetry func(req *http.Request, resp *http.Response, err error) bool

	// Backoff returns the wait before a retry when the server supplied none.
	// attempt counts retries from 0 (the wait before the second attempt);
	// resp is the failed attempt's response, nil after a connection error,
	// and Backoff must not read or close its body. It has the signature of
	// go-retryablehttp's Backoff, so its LinearJitterBackoff fits too. Nil
	// means [DefaultBackoff] drawing its jitter from Rand.
	Backoff func(min, max time.Duration, attempt int, resp *http.Response) time.Duration

	// Rand returns the jitter for the default Backoff, uniform in [0, 1).
	// Nil means math/rand/v2's Float64. It must be safe for concurrent use.
	// Tests set it to get deterministic waits. It is ignored when Backoff is
	// set.
	Rand func() float64

	// Budget is the retry budget. Nil means a budget with
	// [RetryBudget]'s defaults (500 tokens, 5 per retry, 10 per retry after
	// a timeout) owned by this Retry. Set it to share one budget between
	// several Retry values.
	Budget *RetryBudget

	// DisableBudget turns the retry budget off: only MaxAttempts bounds
	// retries. False (the zero value) keeps it on.
	DisableBudget bool

	// OnRetry, when set, is called before each wait with the request of the
	// attempt that failed, its number (1 for the first attempt), its
	// response or error, and the wait before the next attempt. It must not
	// read or close resp.Body (the layer drains and closes it). It is called
	// from the goroutine running RoundTrip and should return quickly.
	OnRetry func(req *http.Request, attempt int, resp *http.Response, err error, wait time.Duration)

	// Logger receives a Debug event for each retry and a Warn event when
	// the layer stops although the policy wanted another attempt. Events
	// carry the method, host, path (never the query), status, attempt, wait
	// and error, never headers or bodies. Nil means no logging.
	Logger *slog.Logger
}

// Retry is an [http.RoundTripper] that retries what is safe to retry, waiting
// as long as the server asks or, when it does not say, with capped exponential
// backoff and full jitter.
//
// With the default [DefaultShouldRetry] policy it retries:
//
//	outcome                        idempotent method   POST, PATCH, other methods
//	                               (GET HEAD OPTIONS   with an Idempotency-Key     without one
//	                                PUT DELETE TRACE)
//	429 Too Many Requests          yes                 yes                         yes
//	503 Service Unavailable        yes                 yes                         no
//	502 Bad Gateway, 504           yes                 yes                         no
//	connection error               yes                 yes                         no
//	500 Internal Server Error      yes                 no                          no
//	other 4xx and 5xx, 1xx-3xx     no                  no                          no
//
// A 429 is always retried because the server refused the request before
// processing it. A request "has an Idempotency-Key" when its header map holds
// Idempotency-Key or X-Idempotency-Key under any spelling of the name, even
// with a nil value (the net/http convention for "idempotent, but send no
// key"); [Retry.AddIdempotencyKey] adds one. Connection errors exclude the
// context's own errors, TLS certificate failures, malformed requests
// (go-retryablehttp's DefaultRetryPolicy decides those), and errors from the
// other apiauth layers (those matching an apiauth.Err* sentinel, and
// [*RateLimitError]).
//
// # Waits
//
// For a 429 or 503, the wait is the server's: the Retry-After header (seconds
// or HTTP-date, see [RetryAfter]), else a retry_after field in the JSON body
// (see [RetryAfterFromBody]; the first 64 KiB of the body are read and the
// caller still gets the whole body), else, for a 429 only, the
// X-RateLimit-Reset header (Unix epoch seconds; values below 100000000 are
// read as seconds from now, as some servers send). Otherwise, or when the server
// asks for no wait at all, the wait is [Retry.Backoff]. A server wait longer
// than [Retry.MaxWait], or any wait that would end after the context's
// deadline, is not slept: the layer returns the response as it is, with a nil
// error and its body intact, so that the caller (apiauth.CheckResponse, the
// Client) turns it into a [*RateLimitError] or an API error carrying the
// server's code and retry time. A cancelled context ends any wait at once
// with an error wrapping ctx.Err().
//
// # Outcome
//
// When retries run out (MaxAttempts, the [RetryBudget], an unreplayable body)
// the caller gets the last response with a nil error, never a made-up error.
// When the last attempt failed with a connection error, the error is returned
// wrapped, with the number of attempts, after more than one attempt, and as
// the base returned it after a single one.
//
// # Requests
//
// The caller's request is never modified: each attempt sends a clone. The
// request body is sent again on each attempt: from Request.GetBody when set
// (http.NewRequest sets it for bytes, strings and bytes.Buffer readers), else
// from a copy made before the first attempt when the body's length is known
// and at most MaxBufferedBody. The copy is read under the request's context
// (a body that blocks, such as an io.Pipe, cannot hold the request past its
// deadline) and is exactly ContentLength bytes: the layer never reads past
// them, the base transport does as it sends the first attempt. Any other
// body (too large, of unknown length, or found shorter or longer than its
// ContentLength) is sent once and the request is not retried. A response that is
// retried is drained (up to 64 KiB) and closed before the next attempt.
//
// # Use
//
// Fields must be set before the first RoundTrip and not changed afterwards.
// The zero value is ready to use: it retries over a transport from
// [NewBase] with every default below. A Retry is safe for
// concurrent use and must not be copied after first use; all requests through
// one Retry share its retry budget.
//
// Retry takes its defaults and policy from github.com/hashicorp/go-retryablehttp
// without running that package's client: [DefaultBackoff] builds on its
// DefaultBackoff (capped exponential, with full jitter added here) and
// [DefaultShouldRetry] uses its DefaultRetryPolicy to sort connection errors;
// its Client/RoundTripper is not used, because it wraps the caller's request
// in place, reads any request body into memory without bound, goes through an
// http.Client (redirects, url.Error wrapping, closing the base's idle
// connections), sleeps for any Retry-After however long, and by default
// discards the last response for a "giving up" error.
type Retry struct {
	// Base is the transport that sends each attempt. Nil means one from
	// [NewBase] made on first use (http.DefaultTransport itself is never
	// modified).
	Base http.RoundTripper

	// RetryOptions holds the layer's settings; they must not change after
	// the first request.
	RetryOptions

	baseOnce    sync.Once
	defaultBase http.RoundTripper
	ownBudget   RetryBudget
	obs         *Observer // set by New; nil when nothing is observed
}

// RoundTrip sends req, retrying as documented on [Retry]. It returns a nil
// error whenever it has a response, and it closes req.Body.
func (r *Retry) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	body, err := r.replayableBody(req)
	if err != nil {
		return nil, err
	}
	maxAttempts := r.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = DefaultRetryMaxAttempts
	}
	key := ""
	if r.AddIdempotencyKey && !retryIdempotentMethod(req.Method) && !retryHasKey(req.Header) {
		key = retryUUID()
	}
	base := r.base()
	budget := r.budget()
	shouldRetry := r.ShouldRetry
	if shouldRetry == nil {
		shouldRetry = DefaultShouldRetry
	}

	next := body.first
	taken := 0 // budget tokens taken by the retry in flight
	reason := ""
	for attempt := 1; ; attempt++ {
		// The first attempt of a request this layer has nothing to change
		// in (no buffered body, no added key) goes out as it is: the layers
		// below clone before they change anything. Later attempts need a
		// clone carrying the replayed body.
		out := req
		if attempt > 1 || body.buffered || key != "" || next != req.Body {
			out = req.Clone(ctx)
			out.Body = next
			if body.buffered {
				out.GetBody = body.get
			}
			if key != "" {
				out.Header.Set("Idempotency-Key", key)
			}
		}
		var resp *http.Response
		var err error
		if r.obs == nil {
			resp, err = base.RoundTrip(out)
		} else {
			resp, err = r.observedAttempt(base, out, attempt, reason)
		}
		if err != nil && resp != nil {
			// A base breaking the RoundTripper contract: keep the error.
			resp.Body.Close()
			resp = nil
		}
		if err == nil && resp == nil {
			return nil, errkind.Errorf("apiauth: retry: %s: base transport returned neither response nor error", retryDesc(out))
		}
		if !shouldRetry(out, resp, err) {
			if budget != nil && err == nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				budget.release(taken)
			}
			return retryOutcome(out, attempt, resp, err, "")
		}

		// The policy wants another attempt; see whether one may be made.
		if body.get == nil {
			return r.giveUp(ctx, out, attempt, resp, err, "request body cannot be replayed")
		}
		if attempt >= maxAttempts {
			return r.giveUp(ctx, out, attempt, resp, err, retryExhausted)
		}
		wait, server, why := r.wait(ctx, resp, attempt)
		if why != "" {
			return r.giveUp(ctx, out, attempt, resp, err, why)
		}
		nb, berr := body.get()
		if berr != nil {
			r.log(ctx, slog.LevelWarn, "apiauth: retry: cannot replay request body", out, attempt, resp, berr, 0)
			return retryOutcome(out, attempt, resp, err, "")
		}
		taken = 0
		if budget != nil {
			n, ok := budget.acquire(retryIsTimeout(err))
			if !ok {
				retryClose(nb)
				return r.giveUp(ctx, out, attempt, resp, err, "retry budget exhausted")
			}
			taken = n
		}
		if r.OnRetry != nil {
			r.OnRetry(out, attempt, resp, err, wait)
		}
		r.log(ctx, slog.LevelDebug, "apiauth: retrying request", out, attempt, resp, err, wait)
		if r.obs != nil {
			reason = observeReason(resp, err)
			cause := "backoff"
			if server {
				cause = "retry_after"
			}
			r.obs.wait(ctx, cause, wait)
		}
		if resp != nil {
			retryDrain(resp.Body)
		}
		if werr := retrySleep(ctx, wait); werr != nil {
			retryClose(nb)
			if budget != nil {
				budget.release(taken)
			}
			return nil, errkind.Errorf("apiauth: retry: %s: waiting %s before attempt %d: %w",
				retryDesc(out), wait, attempt+1, werr)
		}
		next = nb
	}
}

// CloseIdleConnections closes the idle connections of the base transport, if
// it has such a method. [http.Client.CloseIdleConnections] calls it.
func (r *Retry) CloseIdleConnections() {
	if c, ok := r.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (r *Retry) base() http.RoundTripper {
	if r.Base != nil {
		return r.Base
	}
	r.baseOnce.Do(func() {
		r.defaultBase = NewBase()
	})
	return r.defaultBase
}

func (r *Retry) budget() *RetryBudget {
	switch {
	case r.DisableBudget:
		return nil
	case r.Budget != nil:
		return r.Budget
	default:
		return &r.ownBudget
	}
}

// wait returns the wait before the next attempt and whether the server
// asked for it, or a reason not to make it.
func (r *Retry) wait(ctx context.Context, resp *http.Response, attempt int) (time.Duration, bool, string) {
	var wait time.Duration
	server := false
	if sw, ok := retryServerWait(resp, time.Now()); ok && sw > 0 {
		maxWait := r.MaxWait
		if maxWait == 0 {
			maxWait = DefaultRetryMaxWait
		}
		if maxWait < 0 || sw > maxWait {
			return 0, false, fmt.Sprintf("server asks to wait %s, more than MaxWait", sw)
		}
		wait, server = sw, true
	} else {
		minB := retryOr(r.MinBackoff, DefaultRetryMinBackoff)
		maxB := retryOr(r.MaxBackoff, DefaultRetryMaxBackoff)
		if r.Backoff != nil {
			wait = r.Backoff(minB, maxB, attempt-1, resp)
		} else {
			wait = retryJitter(minB, maxB, attempt-1, r.Rand)
		}
		wait = max(wait, 0)
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		return 0, false, fmt.Sprintf("wait of %s ends after the context deadline", wait)
	}
	return wait, server, ""
}

// observedAttempt sends one attempt through base, reporting it to r.obs.
// The attempt's request carries the context AttemptStart returns; the
// request given back to the loop stays out, whose context is the call's.
func (r *Retry) observedAttempt(base http.RoundTripper, out *http.Request, attempt int, reason string) (resp *http.Response, err error) {
	ctx := out.Context()
	if r.obs.AttemptStart != nil {
		if actx := r.obs.AttemptStart(ctx, out, attempt, reason); actx != nil && actx != ctx {
			ctx = actx
			out = out.WithContext(actx)
		}
	}
	if r.obs.AttemptEnd != nil {
		defer func() { r.obs.AttemptEnd(ctx, resp, err) }()
	}
	return base.RoundTrip(out)
}

// giveUp logs why the layer stops although the policy wanted another attempt
// and returns the last outcome.
func (r *Retry) giveUp(ctx context.Context, req *http.Request, attempt int, resp *http.Response, err error, reason string) (*http.Response, error) {
	r.log(ctx, slog.LevelWarn, "apiauth: retry: not retrying: "+reason, req, attempt, resp, err, 0)
	return retryOutcome(req, attempt, resp, err, reason)
}

// retryOutcome returns the last attempt's outcome: the response as it is, or
// the error, wrapped with the attempt count after more than one attempt.
func retryOutcome(req *http.Request, attempt int, resp *http.Response, err error, reason string) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if attempt == 1 {
		return nil, err
	}
	if reason != "" && reason != retryExhausted {
		reason = " (" + reason + ")"
	} else {
		reason = ""
	}
	return nil, errkind.Errorf("apiauth: retry: %s: failed after %d attempts%s: %w", retryDesc(req), attempt, reason, err)
}

func (r *Retry) log(ctx context.Context, level slog.Level, msg string, req *http.Request, attempt int, resp *http.Response, err error, wait time.Duration) {
	if r.Logger == nil || !r.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("host", req.URL.Host),
		slog.String("path", req.URL.Path),
		slog.Int("attempt", attempt),
	}
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", retryRedactError(err)))
	}
	if level == slog.LevelDebug {
		attrs = append(attrs, slog.Duration("wait", wait))
	}
	r.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// retryRedactError returns err's message, dropping the URL (and so any query
// string) of a *url.Error in its chain.
func retryRedactError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Op + ": " + retryRedactError(ue.Err)
	}
	return err.Error()
}

// retryDesc describes req for errors and logs: method, host and path, never
// the query or user info.
func retryDesc(req *http.Request) string {
	return req.Method + " " + req.URL.Host + req.URL.Path
}

// DefaultShouldRetry is the default [Retry.ShouldRetry] policy: the table on
// [Retry]. It retries a 429 always; a 502, 503 or 504, and a connection
// error, when the request's method is idempotent or it carries an
// Idempotency-Key; a 500 when the method is idempotent; nothing else. It
// never retries once the request's context is done. Wrap it to change one
// case and keep the rest.
func DefaultShouldRetry(req *http.Request, resp *http.Response, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	if err != nil {
		return retrySafe(req) && retryableError(req.Context(), err)
	}
	if resp == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retrySafe(req)
	case http.StatusInternalServerError:
		return retryIdempotentMethod(req.Method)
	}
	return false
}

// retryableError reports whether err, returned by a base transport, is a
// transient connection failure worth another attempt.
func retryableError(ctx context.Context, err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var rle *RateLimitError
	if retryIsKind(err) || errors.As(err, &rle) {
		return false // a decision of another apiauth layer, not the network
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidCert) {
		return false
	}
	// go-retryablehttp's policy recognises net/http's errors for too many
	// redirects, bad schemes, bad headers and untrusted certificates by their
	// text inside a *url.Error, the form http.Client returns; a base
	// transport returns them bare, so wrap them the same way.
	ok, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, &url.Error{Op: "retry", Err: err})
	return ok
}

// retryKinds are the sentinel kinds of apiauth's errors.
var retryKinds = [...]*errkind.Kind{
	errkind.Unauthorized, errkind.Forbidden, errkind.NotFound, errkind.RateLimited,
	errkind.TokenExpired, errkind.InvalidAPIKey, errkind.InsufficientPermissions, errkind.Server,
	errkind.InvalidCredential, errkind.InsecureTransport, errkind.TokenRefresh, errkind.Closed,
}

// retryIsKind reports whether err matches one of apiauth's sentinel kinds,
// as the kind itself or through an Is method (*InsecureError, the root
// package's *RefreshError and *CredentialError): a failure another layer
// already decided on, even when its cause is a network error.
func retryIsKind(err error) bool {
	for _, k := range retryKinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// retryIsTimeout reports whether err is a timeout, which costs more budget.
func retryIsTimeout(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// retryIdempotentMethod reports whether method is idempotent under RFC 9110.
func retryIdempotentMethod(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// retryHasKey reports whether h carries an idempotency key, possibly with a
// nil value, under any spelling of its name: a key set by hand as
// req.Header["idempotency-key"] is sent as it is, and adding a second one
// beside it would make the server see the added key first.
func retryHasKey(h http.Header) bool {
	return headerHas(h, "Idempotency-Key") || headerHas(h, "X-Idempotency-Key")
}

// retrySafe reports whether req may be sent more than once.
func retrySafe(req *http.Request) bool {
	return retryIdempotentMethod(req.Method) || retryHasKey(req.Header)
}

// retryServerWait returns the wait a 429 or 503 response asks for.
func retryServerWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	if d, ok := RetryAfter(resp, now); ok {
		return d, true
	}
	if d, ok := retryPeekBody(resp); ok {
		return d, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return retryResetWait(resp.Header, now)
	}
	return 0, false
}

// retryPeekBody reads up to retryPeekLimit bytes of resp.Body, looks for a
// retry_after field in them, and puts a body back that yields exactly what
// the original would have: the bytes read, then the rest (or the read error).
func retryPeekBody(resp *http.Response) (time.Duration, bool) {
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 {
		return 0, false
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, retryPeekLimit))
	var rest io.Reader = resp.Body
	if err != nil {
		rest = retryErrReader{err}
	}
	resp.Body = retryReadCloser{io.MultiReader(bytes.NewReader(buf), rest), resp.Body}
	return RetryAfterFromBody(buf)
}

type retryReadCloser struct {
	io.Reader
	io.Closer
}

type retryErrReader struct{ err error }

func (e retryErrReader) Read([]byte) (int, error) { return 0, e.err }

// retryDrain reads up to retryDrainLimit bytes of body, so its connection can
// be reused, and closes it.
func retryDrain(body io.ReadCloser) { drain.Close(body, retryDrainLimit) }

func retryClose(body io.ReadCloser) {
	if body != nil {
		body.Close()
	}
}

// retrySleep waits for d, or until ctx is done, and returns ctx.Err() then.
func retrySleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DefaultBackoff is the default [Retry.Backoff]: exponential backoff with
// full jitter, a uniformly random wait in [0, min(max, min·2^attempt)),
// jitter drawn from math/rand/v2. The exponential ceiling is
// go-retryablehttp's DefaultBackoff, asked without a response so that it does
// not read Retry-After (the [Retry] layer handles server waits itself, capped
// by MaxWait). It does not read resp.
func DefaultBackoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	return retryJitter(min, max, attempt, nil)
}

// retryJitter returns a full-jitter wait below the capped exponential step,
// drawing from rnd (nil means math/rand/v2).
func retryJitter(minB, maxB time.Duration, attempt int, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = mathrand.Float64
	}
	ceiling := retryablehttp.DefaultBackoff(minB, maxB, max(attempt, 0), nil)
	f := rnd()
	if !(f >= 0) { // also catches NaN
		f = 0
	}
	return time.Duration(min(f, 1) * float64(ceiling))
}

// retryBody is the source of a request's body for every attempt.
type retryBody struct {
	first    io.ReadCloser                 // the body of the first attempt
	get      func() (io.ReadCloser, error) // bodies of later attempts; nil if none can be made
	buffered bool                          // get replays a copy made by the layer
}

// replayableBody works out how req's body can be sent on every attempt. It
// closes req.Body when it returns an error.
func (r *Retry) replayableBody(req *http.Request) (retryBody, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return retryBody{first: req.Body, get: retryNoBody}, nil
	}
	if req.GetBody != nil {
		return retryBody{first: req.Body, get: req.GetBody}, nil
	}
	limit := r.MaxBufferedBody
	if limit == 0 {
		limit = DefaultRetryMaxBufferedBody
	}
	n := req.ContentLength
	if n <= 0 || limit < 0 || n > limit {
		return retryBody{first: req.Body}, nil // unknown length or too large: sent once
	}
	buf, err := retryReadFull(req.Context(), req.Body, n)
	// The first attempt sends what was read, then whatever follows in the
	// original body: the base transport reads past ContentLength (net/http
	// does, to report a body longer than declared) as it sends the
	// request, not this layer before sending it, and that read ends with
	// the context too. A body that only ends after the answer (an io.Pipe
	// whose producer waits for it) thus gets its answer, and cannot hold
	// the request past its deadline.
	tail := &retryTail{ctx: req.Context(), body: req.Body}
	rest := func() io.ReadCloser {
		return retryReadCloser{io.MultiReader(bytes.NewReader(buf), tail), req.Body}
	}
	switch {
	case err == nil:
		get := func() (io.ReadCloser, error) {
			if tail.over.Load() {
				// Longer than its ContentLength: a copy of the declared
				// length would be a different, truncated body.
				return nil, errors.New("request body longer than its ContentLength")
			}
			return io.NopCloser(bytes.NewReader(buf)), nil
		}
		return retryBody{first: rest(), get: get, buffered: true}, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// Shorter than its ContentLength: send what was read once, and let
		// the base transport report the mismatch.
		return retryBody{first: rest()}, nil
	}
	req.Body.Close()
	return retryBody{}, errkind.Errorf("apiauth: retry: %s: reading request body: %w", retryDesc(req), err)
}

// retryTail is what a request body yields past the ContentLength bytes the
// layer read, read under ctx like them (see retryReadFull); it records
// whether there was anything.
type retryTail struct {
	ctx  context.Context
	body io.ReadCloser
	over atomic.Bool
}

func (t *retryTail) Read(p []byte) (int, error) {
	n, err := t.read(p)
	if n > 0 {
		t.over.Store(true)
	}
	return n, err
}

func (t *retryTail) read(p []byte) (int, error) {
	if t.ctx.Done() == nil || len(p) == 0 {
		return t.body.Read(p)
	}
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	// p is the caller's: a Read still running when this one returns
	// must not write into it.
	buf := make([]byte, min(len(p), 4<<10))
	done := make(chan retryRead, 1)
	go func() {
		n, err := t.body.Read(buf)
		done <- retryRead{n, err}
	}()
	select {
	case r := <-done:
		return copy(p, buf[:r.n]), r.err
	case <-t.ctx.Done():
		t.body.Close()
		return 0, t.ctx.Err()
	}
}

// retryRead is the outcome of a Read run on a goroutine of its own.
type retryRead struct {
	n   int
	err error
}

// retryReadFull reads exactly n bytes of body, never more, or stops when
// ctx is done. A body can block (an io.Pipe whose producer is waiting), so
// under a context that can end the read runs on a goroutine of its own:
// when ctx ends first, body is closed, which ends a pending Read of an
// io.Pipe and of net/http's own bodies (net/http closes a request body
// the same way), and the goroutine ends with that Read; its buffer is
// dropped. The error is then ctx's; io.ErrUnexpectedEOF or io.EOF mean a
// body shorter than n, and buf holds what was read.
func retryReadFull(ctx context.Context, body io.ReadCloser, n int64) ([]byte, error) {
	buf := make([]byte, n)
	if ctx.Done() == nil {
		k, err := io.ReadFull(body, buf)
		return buf[:k], err
	}
	done := make(chan retryRead, 1)
	go func() {
		k, err := io.ReadFull(body, buf)
		done <- retryRead{k, err}
	}()
	select {
	case r := <-done:
		return buf[:r.n], r.err
	case <-ctx.Done():
		body.Close()
		return nil, ctx.Err()
	}
}

// retryNoBody is the replay function of a request without a body; a
// package-level function, so that such requests cost no closure.
func retryNoBody() (io.ReadCloser, error) { return http.NoBody, nil }

// retryUUID returns a random (version 4) UUID.
func retryUUID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
