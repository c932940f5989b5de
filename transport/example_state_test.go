package transport_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/apiauth/apiauth/transport"
)

// The rate-limit layer's snapshot, for a health endpoint or a log line:
// per host and credential identity, what the server's headers said. The
// identity is a hash of the Authorization header, never the header.
func ExamplePace_State() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"default";q=100;w=60`)
		w.Header().Set("RateLimit", `"default";r=41;t=30`)
	}))
	defer srv.Close()
	pace := &transport.Pace{}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	resp, err := pace.RoundTrip(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	for _, s := range pace.State() {
		u, _ := url.Parse(srv.URL)
		fmt.Println(s.Host == u.Host, len(s.Identity), s.Limit, s.Remaining, s.Window, s.InFlight)
		b, _ := json.Marshal(transport.PaceState{Limit: s.Limit, Remaining: s.Remaining, Window: s.Window})
		fmt.Println(string(b))
	}
	// Output:
	// true 32 100 41 1m0s 0
	// {"host":"","limit":100,"remaining":41,"window":60000000000,"in_flight":0}
}
