package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/apiauth/apiauth/transport"
)

// A stack of apiauth's layers under a plain *http.Client, for code that
// composes its own: the credential goes only to its origin, a 503 is
// retried, and the server's rate-limit headers pace what follows.
func ExampleNew() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "99")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // once: retried
			return
		}
		fmt.Fprint(w, r.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()

	cred := transport.CredentialFunc(func(_ context.Context, h http.Header) error {
		h.Set("X-Api-Key", "key-from-a-vault")
		return nil
	})
	stack, err := transport.New(nil, transport.Options{
		Retry: transport.RetryOptions{MaxAttempts: 3},
		Auth:  transport.AuthOptions{Credential: cred, Origin: srv.URL},
	})
	if err != nil {
		panic(err)
	}
	hc := &http.Client{Transport: stack, CheckRedirect: stack.CheckRedirect}
	defer stack.CloseIdleConnections()

	resp, err := hc.Get(srv.URL + "/v1/things")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body [64]byte
	n, _ := resp.Body.Read(body[:])
	fmt.Println(resp.Status, string(body[:n]), "attempts:", calls.Load())
	// Output: 200 OK key-from-a-vault attempts: 2
}
