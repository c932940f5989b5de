package apiauthotel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/otel/apiauthotel"
	"github.com/apiauth/apiauth/transport"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type telemetry struct {
	inst   *apiauthotel.Instrumentation
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newTelemetry(t *testing.T) telemetry {
	t.Helper()
	tm := telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	var err error
	tm.inst, err = apiauthotel.New(&apiauthotel.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tm.spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func (tm telemetry) points(t *testing.T) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tm.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return points(rm)
}

// TestHTTPClientPath checks that a request through Client.HTTPClient is a
// logical call too, and that a client without a token cache (an API key)
// reports no refresh.
func TestHTTPClientPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tm := newTelemetry(t)
	opts := &apiauth.ClientOptions{}
	tm.inst.InstrumentClient(opts)
	key, err := apiauth.ParseAPIKey(canary)
	if err != nil {
		t.Fatal(err)
	}
	client, err := apiauth.NewClient(srv.URL, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.HTTPClient().Get(srv.URL + "/x?token=secret-query")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ended := tm.spans.Ended()
	if got := strings.Join(names(ended), ","); got != "GET,apiauth GET" {
		t.Fatalf("spans %s, want GET,apiauth GET", got)
	}
	wantAttrs(t, "call", ended[1].Attributes(), map[string]string{"url.full": srv.URL + "/x", "http.response.status_code": "204"})
	if ended[0].Parent().SpanID() != ended[1].SpanContext().SpanID() {
		t.Error("attempt span is not the call span's child")
	}
	dump := dumpSpans(ended) + strings.Join(tm.points(t), "\n")
	if strings.Contains(dump, canary) || strings.Contains(dump, "secret-query") {
		t.Errorf("secret in telemetry:\n%s", dump)
	}
}

// TestRefreshFailure checks a failed refresh: an error span and a failed
// refresh point, and a call that fails.
func TestRefreshFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request sent without a token")
	}))
	defer srv.Close()
	tm := newTelemetry(t)
	cacheOpts := &apiauth.CacheOptions{MinBackoff: time.Hour, MaxBackoff: time.Hour}
	tm.inst.InstrumentCache(cacheOpts)
	down := errors.New("identity provider down")
	cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
		return nil, down
	}), cacheOpts)
	defer cache.Close()
	clientOpts := &apiauth.ClientOptions{}
	tm.inst.InstrumentClient(clientOpts)
	client, err := apiauth.NewClient(srv.URL, cache, clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(context.Background(), "/x", nil); !errors.Is(err, down) {
		t.Fatalf("Get: %v, want %v", err, down)
	}
	var refresh sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if s.Name() == "apiauth token refresh" {
			refresh = s
		}
	}
	if refresh == nil || refresh.Status().Code != codes.Error || len(refresh.Links()) != 1 {
		t.Fatalf("refresh span %+v, want one with an error status and a link", refresh)
	}
	wantAttrs(t, "refresh", refresh.Attributes(), map[string]string{"apiauth.outcome": "failed"})
	got := tm.points(t)
	for _, want := range []string{
		"apiauth.token.refreshes{apiauth.outcome=failed} = 1",
		"apiauth.token.refresh.duration{apiauth.outcome=failed} count 1",
	} {
		if !contains(got, want) {
			t.Errorf("no metric point %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestChainedHooks checks that hooks set before InstrumentClient and
// InstrumentCache keep running, inside the spans.
func TestChainedHooks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tm := newTelemetry(t)
	var callSpan, attemptSpan, refreshSpan, refreshEnd trace.SpanContext
	var rateLimits int
	cacheOpts := &apiauth.CacheOptions{
		OnRefreshStart: func(ctx context.Context) context.Context {
			refreshSpan = trace.SpanContextFromContext(ctx)
			return nil // nil: keep the context
		},
		OnRefreshEnd: func(ctx context.Context, err error) { refreshEnd = trace.SpanContextFromContext(ctx) },
	}
	tm.inst.InstrumentCache(cacheOpts)
	cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(context.Context) (*apiauth.Token, error) {
		return &apiauth.Token{AccessToken: canary, Expiry: time.Now().Add(time.Hour)}, nil
	}), cacheOpts)
	defer cache.Close()
	clientOpts := &apiauth.ClientOptions{Observer: transport.Observer{
		CallStart: func(ctx context.Context, req *http.Request) context.Context {
			callSpan = trace.SpanContextFromContext(ctx)
			return ctx
		},
		AttemptStart: func(ctx context.Context, req *http.Request, attempt int, reason string) context.Context {
			attemptSpan = trace.SpanContextFromContext(ctx)
			return ctx
		},
		RateLimit: func(context.Context, string, string, transport.RateLimit) { rateLimits++ },
	}}
	tm.inst.InstrumentClient(clientOpts)
	client, err := apiauth.NewClient(srv.URL, cache, clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(context.Background(), "/x", nil); err != nil {
		t.Fatal(err)
	}
	spans := map[string]trace.SpanContext{}
	for _, s := range tm.spans.Ended() {
		spans[s.Name()] = s.SpanContext()
	}
	if len(spans) != 3 || !callSpan.IsValid() {
		t.Fatalf("spans %v, call span seen %v", spans, callSpan)
	}
	if !callSpan.Equal(spans["apiauth GET"]) || !attemptSpan.Equal(spans["GET"]) {
		t.Errorf("earlier observer saw spans %v, %v; want the call and attempt spans %v", callSpan, attemptSpan, spans)
	}
	if !refreshSpan.Equal(spans["apiauth token refresh"]) || !refreshEnd.Equal(refreshSpan) {
		t.Errorf("earlier cache hooks saw spans %v, %v; want the refresh span %v", refreshSpan, refreshEnd, spans)
	}
	if rateLimits != 0 {
		t.Errorf("%d rate-limit snapshots from a server that sends none", rateLimits)
	}
}

// TestUnknownMethod checks the semantic conventions' handling of a method
// outside RFC 9110: "_OTHER", the original beside it, spans named "HTTP".
func TestUnknownMethod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tm := newTelemetry(t)
	opts := &apiauth.ClientOptions{}
	tm.inst.InstrumentClient(opts)
	client, err := apiauth.NewClient(srv.URL, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PURGE", srv.URL+"/cache", nil)
	resp, err := client.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ended := tm.spans.Ended()
	if got := strings.Join(names(ended), ","); got != "HTTP,apiauth HTTP" {
		t.Fatalf("spans %s, want HTTP,apiauth HTTP", got)
	}
	for _, s := range ended {
		wantAttrs(t, s.Name(), s.Attributes(), map[string]string{
			"http.request.method": "_OTHER", "http.request.method_original": "PURGE",
		})
	}
}
