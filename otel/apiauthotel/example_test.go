package apiauthotel_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/otel/apiauthotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Instrumenting a client and its token cache. Real code passes its own
// providers, or nil options for OpenTelemetry's global ones.
func ExampleNew() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer api.Close()

	spans := tracetest.NewSpanRecorder()
	inst, err := apiauthotel.New(&apiauthotel.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
	})
	if err != nil {
		log.Fatal(err)
	}

	cacheOpts := &apiauth.CacheOptions{}
	inst.InstrumentCache(cacheOpts) // a span per token refresh, refresh metrics
	cache := apiauth.NewTokenCache(apiauth.TokenSourceFunc(func(ctx context.Context) (*apiauth.Token, error) {
		return &apiauth.Token{AccessToken: "example-token", Expiry: time.Now().Add(time.Hour)}, nil
	}), cacheOpts)
	defer cache.Close()

	clientOpts := &apiauth.ClientOptions{}
	inst.InstrumentClient(clientOpts) // call and attempt spans, waits, retries, rate limits
	client, err := apiauth.NewClient(api.URL, cache, clientOpts)
	if err != nil {
		log.Fatal(err)
	}
	var health struct{ Status string }
	if _, err := client.Get(context.Background(), "/health", &health); err != nil {
		log.Fatal(err)
	}

	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	slices.Sort(names)
	fmt.Println(health.Status, names)
	// Output: ok [GET apiauth GET apiauth token refresh]
}
