// Package apiauthotel reports what an apiauth client does as OpenTelemetry
// traces and metrics. It lives in a module of its own, so that the apiauth
// module itself imports nothing of OpenTelemetry: it plugs into the
// OTel-free hooks of the core, [transport.Observer] (set as
// apiauth.ClientOptions.Observer) and the OnRefreshStart and OnRefreshEnd
// hooks of apiauth.CacheOptions.
//
//	inst, err := apiauthotel.New(nil) // the global TracerProvider and MeterProvider
//	...
//	cacheOpts := &apiauth.CacheOptions{}
//	inst.InstrumentCache(cacheOpts)
//	cache := apiauth.NewTokenCache(source, cacheOpts)
//	clientOpts := &apiauth.ClientOptions{}
//	inst.InstrumentClient(clientOpts)
//	client, err := apiauth.NewClient(baseURL, cache, clientOpts)
//
// # Traces
//
// Each logical call (Client.Do, the family methods, a request through
// Client.HTTPClient) is one span of kind Internal named "apiauth {method}".
// Each attempt the retry layer makes is a child span of kind Client named
// "{method}" ("HTTP" for a method outside RFC 9110's, whose
// http.request.method is then "_OTHER"), following OpenTelemetry's HTTP
// client semantic conventions: http.request.method, server.address, server.port, url.full (without its
// query string, fragment or user info), http.response.status_code,
// error.type, and from the second attempt on http.request.resend_count and
// apiauth.retry.reason ("status_429", "status_503", "error"). Every pause
// is an event named "apiauth.wait" with apiauth.wait.cause ("pace",
// "shared_budget", "retry_after", "backoff") and apiauth.wait.duration (in
// seconds), on the attempt span for pacing and on the call span for the
// wait between attempts. A rate-limit snapshot sets
// apiauth.ratelimit.limit and apiauth.ratelimit.remaining on the attempt
// span.
//
// A token refresh is a span of its own, "apiauth token refresh", a new
// root linked (trace.Link) to the span of the attempt that caused it: the
// refresh is shared by every caller waiting for it, so it belongs to none
// of their traces alone. The token source's own requests run on the
// refresh span's context.
//
// These spans carry no trace context on the wire: for propagation, use a
// Base transport that injects it (otelhttp.NewTransport does).
//
// # Metrics
//
//	apiauth.token.refreshes          counter   {refresh}  apiauth.outcome = ok | failed
//	apiauth.token.refresh.duration   histogram s          apiauth.outcome
//	apiauth.client.waits             counter   {wait}     apiauth.wait.cause
//	apiauth.client.wait.duration     histogram s          apiauth.wait.cause
//	apiauth.client.retries           counter   {retry}    server.address, apiauth.retry.reason
//	apiauth.client.rate_limited      counter   {response} server.address (429 answers)
//	apiauth.ratelimit.remaining      gauge     {request}  server.address, apiauth.credential.identity
//	http.client.request.duration     histogram s          per attempt: http.request.method, server.address,
//	                                                      server.port, http.response.status_code, error.type
//
// apiauth.credential.identity is the identity the rate-limit layer keys
// its budgets by (apiauth.ClientOptions.Identity, or a SHA-256 prefix of
// the credential), never a secret. No attribute carries a header value, a
// token or a query string.
package apiauthotel

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/transport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/apiauth/apiauth/otel/apiauthotel"

// Options configures [New]. The zero value (or nil) uses OpenTelemetry's
// global providers.
type Options struct {
	// TracerProvider makes the tracer. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Instrumentation turns apiauth's events into spans and metrics. It is
// safe for concurrent use, and one value may instrument any number of
// clients and caches.
type Instrumentation struct {
	tracer trace.Tracer

	refreshes       metric.Int64Counter
	refreshDuration metric.Float64Histogram
	waits           metric.Int64Counter
	waitDuration    metric.Float64Histogram
	retries         metric.Int64Counter
	rateLimited     metric.Int64Counter
	remaining       metric.Int64Gauge
	attemptDuration metric.Float64Histogram
}

// Attribute keys of apiauth's own, outside the semantic conventions.
const (
	keyOutcome   = attribute.Key("apiauth.outcome")
	keyCause     = attribute.Key("apiauth.wait.cause")
	keyWaitDur   = attribute.Key("apiauth.wait.duration")
	keyReason    = attribute.Key("apiauth.retry.reason")
	keyIdentity  = attribute.Key("apiauth.credential.identity")
	keyLimit     = attribute.Key("apiauth.ratelimit.limit")
	keyRemaining = attribute.Key("apiauth.ratelimit.remaining")
)

// New returns an Instrumentation using the providers of opts (nil means
// the global ones). It fails only when an instrument cannot be created.
func New(opts *Options) (*Instrumentation, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	in := &Instrumentation{tracer: o.TracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(apiauth.Version))}
	m := o.MeterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(apiauth.Version))
	var err error
	set := func(e error) {
		if err == nil {
			err = e
		}
	}
	var e error
	in.refreshes, e = m.Int64Counter("apiauth.token.refreshes", metric.WithUnit("{refresh}"),
		metric.WithDescription("Token refreshes, by outcome (ok, failed)."))
	set(e)
	in.refreshDuration, e = m.Float64Histogram("apiauth.token.refresh.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of token refreshes."))
	set(e)
	in.waits, e = m.Int64Counter("apiauth.client.waits", metric.WithUnit("{wait}"),
		metric.WithDescription("Pauses taken by the client, by cause (pace, shared_budget, retry_after, backoff)."))
	set(e)
	in.waitDuration, e = m.Float64Histogram("apiauth.client.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Planned length of the client's pauses, by cause."))
	set(e)
	in.retries, e = m.Int64Counter("apiauth.client.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts after the first, by reason."))
	set(e)
	in.rateLimited, e = m.Int64Counter("apiauth.client.rate_limited", metric.WithUnit("{response}"),
		metric.WithDescription("429 Too Many Requests answers."))
	set(e)
	in.remaining, e = m.Int64Gauge("apiauth.ratelimit.remaining", metric.WithUnit("{request}"),
		metric.WithDescription("Requests left in the server's rate-limit window, per host and credential identity."))
	set(e)
	in.attemptDuration, e = m.Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP client requests (each attempt)."))
	set(e)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// InstrumentClient sets o.Observer to [Instrumentation.Observer]. An
// observer set before keeps running: its start events after this one's
// (so that they see its span in their context) and its end events before.
func (in *Instrumentation) InstrumentClient(o *apiauth.ClientOptions) {
	o.Observer = chain(in.Observer(), o.Observer)
}

// InstrumentCache sets the OnRefreshStart and OnRefreshEnd hooks of o, so
// that each refresh is a span and counts in the refresh metrics. Hooks set
// before keep running, inside the refresh span as in InstrumentClient.
func (in *Instrumentation) InstrumentCache(o *apiauth.CacheOptions) {
	o.OnRefreshStart = chainStart(in.refreshStart, o.OnRefreshStart)
	o.OnRefreshEnd = chainEnd(in.refreshEnd, o.OnRefreshEnd)
}

// chainStart returns a hook calling outer, then inner on outer's context.
func chainStart(outer, inner func(context.Context) context.Context) func(context.Context) context.Context {
	if inner == nil {
		return outer
	}
	return func(ctx context.Context) context.Context {
		ctx = outer(ctx)
		if c := inner(ctx); c != nil {
			ctx = c
		}
		return ctx
	}
}

// chainEnd returns a hook calling inner, then outer.
func chainEnd(outer, inner func(context.Context, error)) func(context.Context, error) {
	if inner == nil {
		return outer
	}
	return func(ctx context.Context, err error) {
		inner(ctx, err)
		outer(ctx, err)
	}
}

// chain returns an observer running outer's events around inner's.
func chain(outer, inner transport.Observer) transport.Observer {
	o := outer
	if f := inner.CallStart; f != nil {
		o.CallStart = func(ctx context.Context, req *http.Request) context.Context {
			ctx = outer.CallStart(ctx, req)
			if c := f(ctx, req); c != nil {
				ctx = c
			}
			return ctx
		}
	}
	if f := inner.CallEnd; f != nil {
		o.CallEnd = func(ctx context.Context, resp *http.Response, err error) {
			f(ctx, resp, err)
			outer.CallEnd(ctx, resp, err)
		}
	}
	if f := inner.AttemptStart; f != nil {
		o.AttemptStart = func(ctx context.Context, req *http.Request, n int, reason string) context.Context {
			ctx = outer.AttemptStart(ctx, req, n, reason)
			if c := f(ctx, req, n, reason); c != nil {
				ctx = c
			}
			return ctx
		}
	}
	if f := inner.AttemptEnd; f != nil {
		o.AttemptEnd = func(ctx context.Context, resp *http.Response, err error) {
			f(ctx, resp, err)
			outer.AttemptEnd(ctx, resp, err)
		}
	}
	if f := inner.Wait; f != nil {
		o.Wait = func(ctx context.Context, cause string, d time.Duration) {
			outer.Wait(ctx, cause, d)
			f(ctx, cause, d)
		}
	}
	if f := inner.RateLimit; f != nil {
		o.RateLimit = func(ctx context.Context, host, identity string, rl transport.RateLimit) {
			outer.RateLimit(ctx, host, identity, rl)
			f(ctx, host, identity, rl)
		}
	}
	return o
}

// Observer returns the observer reporting a stack's calls, attempts, waits
// and rate-limit snapshots; for apiauth.ClientOptions.Observer or
// transport.Options.Observer.
func (in *Instrumentation) Observer() transport.Observer {
	return transport.Observer{
		CallStart:    in.callStart,
		CallEnd:      in.callEnd,
		AttemptStart: in.attemptStart,
		AttemptEnd:   in.attemptEnd,
		Wait:         in.wait,
		RateLimit:    in.rateLimit,
	}
}

// target is what the spans and metrics say of a request's destination.
type target struct {
	method   string // a known method, or "_OTHER"
	original string // the request's method when it is not a known one
	host     string // server.address: the host name, without the port
	port     int
}

func targetOf(req *http.Request) target {
	var t target
	switch req.Method {
	case "":
		t.method = http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		t.method = req.Method
	default:
		// The semantic conventions bound the method's cardinality.
		t.method, t.original = "_OTHER", req.Method
	}
	if req.URL == nil {
		return t
	}
	t.host = req.URL.Hostname()
	if p, err := strconv.Atoi(req.URL.Port()); err == nil {
		t.port = p
	} else if req.URL.Scheme == "http" {
		t.port = 80
	} else {
		t.port = 443
	}
	return t
}

// spanName is the method, or "HTTP" for an unknown one, as the semantic
// conventions name HTTP client spans.
func (t target) spanName() string {
	if t.original != "" {
		return "HTTP"
	}
	return t.method
}

func (t target) attrs(req *http.Request) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(t.method),
		semconv.ServerAddress(t.host),
		semconv.ServerPort(t.port),
	}
	if t.original != "" {
		kv = append(kv, semconv.HTTPRequestMethodOriginal(t.original))
	}
	if req.URL != nil {
		kv = append(kv, semconv.URLFull(redactURL(req.URL)))
	}
	return kv
}

// redactURL is u without user info, query string or fragment.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

type attemptKey struct{}

// attempt is the state of one attempt, kept in its context.
type attempt struct {
	target
	start time.Time
}

func (in *Instrumentation) callStart(ctx context.Context, req *http.Request) context.Context {
	t := targetOf(req)
	ctx, _ = in.tracer.Start(ctx, "apiauth "+t.spanName(),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(t.attrs(req)...))
	return ctx
}

func (in *Instrumentation) callEnd(ctx context.Context, resp *http.Response, err error) {
	span := trace.SpanFromContext(ctx)
	endSpan(span, resp, err)
}

// endSpan records an HTTP outcome on span and ends it.
func endSpan(span trace.Span, resp *http.Response, err error) {
	switch {
	case err != nil:
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
	case resp != nil:
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode >= 400 {
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// errorType is the error.type of err: its Go type, as the semantic
// conventions suggest when no better name is known. Never its message.
func errorType(err error) string {
	return semconv.ErrorType(err).Value.AsString()
}

func (in *Instrumentation) attemptStart(ctx context.Context, req *http.Request, n int, reason string) context.Context {
	a := &attempt{target: targetOf(req), start: time.Now()}
	kv := a.attrs(req)
	if n > 1 {
		kv = append(kv, semconv.HTTPRequestResendCount(n-1), keyReason.String(reason))
		in.retries.Add(ctx, 1, metric.WithAttributes(semconv.ServerAddress(a.host), keyReason.String(reason)))
	}
	ctx, _ = in.tracer.Start(ctx, a.spanName(), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	return context.WithValue(ctx, attemptKey{}, a)
}

func (in *Instrumentation) attemptEnd(ctx context.Context, resp *http.Response, err error) {
	endSpan(trace.SpanFromContext(ctx), resp, err)
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil {
		return
	}
	kv := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(a.method),
		semconv.ServerAddress(a.host),
		semconv.ServerPort(a.port),
	}
	switch {
	case err != nil:
		kv = append(kv, semconv.ErrorTypeKey.String(errorType(err)))
	case resp != nil:
		kv = append(kv, semconv.HTTPResponseStatusCode(resp.StatusCode))
		if resp.StatusCode >= 400 {
			kv = append(kv, semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			in.rateLimited.Add(ctx, 1, metric.WithAttributes(semconv.ServerAddress(a.host)))
		}
	}
	in.attemptDuration.Record(ctx, time.Since(a.start).Seconds(), metric.WithAttributes(kv...))
}

func (in *Instrumentation) wait(ctx context.Context, cause string, d time.Duration) {
	trace.SpanFromContext(ctx).AddEvent("apiauth.wait", trace.WithAttributes(
		keyCause.String(cause), keyWaitDur.Float64(d.Seconds())))
	c := metric.WithAttributes(keyCause.String(cause))
	in.waits.Add(ctx, 1, c)
	in.waitDuration.Record(ctx, d.Seconds(), c)
}

func (in *Instrumentation) rateLimit(ctx context.Context, host, identity string, rl transport.RateLimit) {
	if rl.Limit >= 0 {
		trace.SpanFromContext(ctx).SetAttributes(keyLimit.Int64(rl.Limit))
	}
	if rl.Remaining < 0 {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(keyRemaining.Int64(rl.Remaining))
	in.remaining.Record(ctx, rl.Remaining, metric.WithAttributes(semconv.ServerAddress(hostname(host)), keyIdentity.String(identity)))
}

// hostname is the host name of a URL host ("example.com:8443", "[::1]"),
// as url.URL.Hostname reads it.
func hostname(host string) string {
	u := url.URL{Host: host}
	return u.Hostname()
}

type refreshKey struct{}

func (in *Instrumentation) refreshStart(ctx context.Context) context.Context {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithNewRoot()}
	if l := trace.LinkFromContext(ctx); l.SpanContext.IsValid() {
		opts = append(opts, trace.WithLinks(l))
	}
	ctx, _ = in.tracer.Start(ctx, "apiauth token refresh", opts...)
	start := time.Now()
	return context.WithValue(ctx, refreshKey{}, start)
}

func (in *Instrumentation) refreshEnd(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(keyOutcome.String(outcome))
	span.End()
	o := metric.WithAttributes(keyOutcome.String(outcome))
	in.refreshes.Add(ctx, 1, o)
	if start, ok := ctx.Value(refreshKey{}).(time.Time); ok {
		in.refreshDuration.Record(ctx, time.Since(start).Seconds(), o)
	}
}
