package apiauthotel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/otel/apiauthotel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// canary is the access token: it must show up nowhere but in the
// Authorization header the server checks.
const canary = "canary-tok-7f3a9c1e5b2d"

// rateLimitedServer answers GET /v1/things with 429 (asking, in its JSON
// body, for a 20 ms wait) the first time and with 200 after, with
// rate-limit headers on both; every request must carry the canary token.
func rateLimitedServer(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+canary {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "100")
		if n.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Remaining", "99")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"RATE_LIMIT_EXCEEDED","retry_after":0.02}}`))
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "98")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOneCall is the acceptance test of issue 14: one Client.Get that
// refreshes its token, is answered 429 once and retries.
func TestOneCall(t *testing.T) {
	srv := rateLimitedServer(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	inst, err := apiauthotel.New(&apiauthotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var sourceSpan trace.SpanContext // the span the token source runs under
	cacheOpts := &apiauth.CacheOptions{Logger: logger}
	inst.InstrumentCache(cacheOpts)
	cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(ctx context.Context) (*apiauth.Token, error) {
		sourceSpan = trace.SpanContextFromContext(ctx)
		return &apiauth.Token{AccessToken: canary, Expiry: time.Now().Add(time.Hour)}, nil
	}), cacheOpts)
	t.Cleanup(func() { cache.Close() })
	clientOpts := &apiauth.ClientOptions{Logger: logger}
	inst.InstrumentClient(clientOpts)
	client, err := apiauth.NewClient(srv.URL+"/v1", cache, clientOpts)
	if err != nil {
		t.Fatal(err)
	}

	var out struct{ OK bool }
	if _, err := client.Get(context.Background(), "things?page=secret-query", &out); err != nil || !out.OK {
		t.Fatalf("Get: %v, %+v", err, out)
	}

	// Traces.
	ended := spans.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["apiauth GET"]) != 1 || len(byName["GET"]) != 2 || len(byName["apiauth token refresh"]) != 1 || len(ended) != 4 {
		t.Fatalf("spans %v, want one call span, two attempt spans and one refresh span", names(ended))
	}
	call, refresh := byName["apiauth GET"][0], byName["apiauth token refresh"][0]
	attempts := byName["GET"]
	if attempts[0].StartTime().After(attempts[1].StartTime()) {
		attempts[0], attempts[1] = attempts[1], attempts[0]
	}
	for i, a := range attempts {
		if a.Parent().SpanID() != call.SpanContext().SpanID() || a.SpanContext().TraceID() != call.SpanContext().TraceID() {
			t.Errorf("attempt %d is not a child of the call span", i+1)
		}
		if a.SpanKind() != trace.SpanKindClient {
			t.Errorf("attempt %d: kind %v, want client", i+1, a.SpanKind())
		}
	}
	wantAttrs(t, "call", call.Attributes(), map[string]string{
		"http.request.method": "GET", "server.address": "127.0.0.1",
		"url.full": srv.URL + "/v1/things", "http.response.status_code": "200",
	})
	wantAttrs(t, "attempt 1", attempts[0].Attributes(), map[string]string{
		"http.request.method": "GET", "http.response.status_code": "429", "error.type": "429",
		"url.full": srv.URL + "/v1/things",
	})
	noAttr(t, "attempt 1", attempts[0].Attributes(), "http.request.resend_count")
	wantAttrs(t, "attempt 2", attempts[1].Attributes(), map[string]string{
		"http.request.resend_count": "1", "apiauth.retry.reason": "status_429",
		"http.response.status_code": "200", "apiauth.ratelimit.remaining": "98",
	})

	// The wait between the attempts is an event of the call span.
	var waited bool
	for _, e := range call.Events() {
		m := attrMap(e.Attributes)
		if e.Name == "apiauth.wait" && m["apiauth.wait.cause"] == "retry_after" && m["apiauth.wait.duration"] == "0.02" {
			waited = true
		}
	}
	if !waited {
		t.Errorf("call span events %+v, want an apiauth.wait of cause retry_after lasting 0.02 s", call.Events())
	}

	// The refresh is a root of its own, linked to the attempt that caused
	// it, and the source ran under its span.
	if refresh.Parent().IsValid() {
		t.Errorf("refresh span has a parent %v, want a new root", refresh.Parent())
	}
	if links := refresh.Links(); len(links) != 1 || links[0].SpanContext.TraceID() != call.SpanContext().TraceID() ||
		links[0].SpanContext.SpanID() != attempts[0].SpanContext().SpanID() {
		t.Errorf("refresh links %+v, want one to the first attempt %v", refresh.Links(), attempts[0].SpanContext())
	}
	if sourceSpan.SpanID() != refresh.SpanContext().SpanID() {
		t.Errorf("token source ran under span %v, want the refresh span", sourceSpan.SpanID())
	}
	wantAttrs(t, "refresh", refresh.Attributes(), map[string]string{"apiauth.outcome": "ok"})

	// Metrics.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := points(rm)
	for _, want := range []string{
		`apiauth.token.refreshes{apiauth.outcome=ok} = 1`,
		`apiauth.token.refresh.duration{apiauth.outcome=ok} count 1`,
		`apiauth.client.waits{apiauth.wait.cause=retry_after} = 1`,
		`apiauth.client.wait.duration{apiauth.wait.cause=retry_after} count 1`,
		`apiauth.client.retries{apiauth.retry.reason=status_429,server.address=127.0.0.1} = 1`,
		`apiauth.client.rate_limited{server.address=127.0.0.1} = 1`,
		fmt.Sprintf(`apiauth.ratelimit.remaining{apiauth.credential.identity=%s,server.address=127.0.0.1} = 98`, cacheIdentity(t, got)),
	} {
		if !contains(got, want) {
			t.Errorf("no metric point %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	var attemptPoints int
	for _, p := range got {
		if strings.HasPrefix(p, "http.client.request.duration{") {
			attemptPoints++
		}
	}
	if attemptPoints != 2 { // one per status: 429 and 200
		t.Errorf("%d http.client.request.duration series, want 2:\n%s", attemptPoints, strings.Join(got, "\n"))
	}

	// The canary, and the query string, appear nowhere.
	dump := dumpSpans(ended) + strings.Join(got, "\n") + logs.String()
	for _, secret := range []string{canary, "secret-query"} {
		if strings.Contains(dump, secret) {
			t.Errorf("%q appears in the telemetry or logs:\n%s", secret, dump)
		}
	}
}

// cacheIdentity returns the identity the remaining gauge carries, which
// must be the cache's non-secret one: present, and no part of the token.
func cacheIdentity(t *testing.T, points []string) string {
	const key = "apiauth.credential.identity="
	for _, p := range points {
		if i := strings.Index(p, key); i >= 0 {
			id := p[i+len(key):]
			id = id[:strings.IndexAny(id, ",}")]
			if id == "" || strings.Contains(canary, id) {
				t.Errorf("identity %q", id)
			}
			return id
		}
	}
	t.Error("no point carries an identity")
	return ""
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name())
	}
	return n
}

func attrMap(kv []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, a := range kv {
		m[string(a.Key)] = a.Value.String()
	}
	return m
}

func wantAttrs(t *testing.T, what string, kv []attribute.KeyValue, want map[string]string) {
	t.Helper()
	m := attrMap(kv)
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: %s = %q, want %q (all: %v)", what, k, m[k], v, m)
		}
	}
}

func noAttr(t *testing.T, what string, kv []attribute.KeyValue, key string) {
	t.Helper()
	if v, ok := attrMap(kv)[key]; ok {
		t.Errorf("%s: %s = %q, want none", what, key, v)
	}
}

// points renders every metric point as name{attrs} = value (sums, gauges)
// or name{attrs} count n (histograms).
func points(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s{%s} = %d", m.Name, set(p.Attributes), p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s{%s} = %d", m.Name, set(p.Attributes), p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s{%s} count %d", m.Name, set(p.Attributes), p.Count))
				}
			default:
				out = append(out, fmt.Sprintf("%s: unexpected %T", m.Name, d))
			}
		}
	}
	return out
}

func set(s attribute.Set) string {
	var kv []string
	for _, a := range s.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	return strings.Join(kv, ",")
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// dumpSpans renders everything the spans hold: names, attributes, events,
// links, statuses.
func dumpSpans(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, s := range tracetest.SpanStubsFromReadOnlySpans(spans) {
		j, err := json.Marshal(s)
		if err != nil {
			fmt.Fprintf(&b, "%+v\n", s)
			continue
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
