package apiauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiauth/apiauth/transport"
)

// TestSharedOptionsNeverCrossCredentials builds 100 clients, each with its
// own key, from one ClientOptions value whose Retry and Pace are set (a
// multi-tenant service building one client per tenant), and calls them all
// at once on one host. Every request must carry its own client's key: before
// the fix, NewClient wired the shared *Retry/*Pace into the last client's
// stack, and tenant A's requests went out with tenant B's key.
func TestSharedOptionsNeverCrossCredentials(t *testing.T) {
	const clients = 100
	var (
		mu    sync.Mutex
		wrong []string
		seen  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The path names the tenant whose key the request must carry.
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		want := "Bearer " + strings.TrimPrefix(tenant, "key-")
		mu.Lock()
		seen++
		if got := r.Header.Get("Authorization"); got != want {
			wrong = append(wrong, fmt.Sprintf("%s carried %q", r.URL.Path, got))
		}
		mu.Unlock()
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()

	opts := &ClientOptions{
		Retry: transport.RetryOptions{MaxAttempts: 2, OnRetry: func(*http.Request, int, *http.Response, error, time.Duration) {}},
		Pace:  transport.PaceOptions{MaxKeys: 16, OnWait: func(*http.Request, time.Duration) {}},
	}
	cs := make([]*Client, clients)
	for i := range cs {
		tok, err := NewStaticToken(fmt.Sprintf("tenant-%03d-token", i))
		if err != nil {
			t.Fatal(err)
		}
		if cs[i], err = NewClient(srv.URL, tok, opts); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := c.Get(context.Background(), fmt.Sprintf("/key-tenant-%03d-token/x", i), nil); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if seen != 3*clients {
		t.Errorf("server saw %d requests, want %d", seen, 3*clients)
	}
	if len(wrong) > 0 {
		t.Errorf("%d requests carried another client's credential, e.g. %s", len(wrong), wrong[0])
	}
}

func TestClientPutAndPatchSendJSON(t *testing.T) {
	type seen struct{ method, ctype, body string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		got = append(got, seen{r.Method, r.Header.Get("Content-Type"), b.String()})
		fmt.Fprintf(w, `{"method":%q}`, r.Method)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func(context.Context, string, any, any) (*Response, error){c.Put, c.Patch} {
		var out struct{ Method string }
		if _, err := call(context.Background(), "/things/1", map[string]int{"n": 1}, &out); err != nil {
			t.Fatal(err)
		}
		if out.Method == "" {
			t.Errorf("answer not decoded: %+v", out)
		}
	}
	want := []seen{{"PUT", "application/json", `{"n":1}`}, {"PATCH", "application/json", `{"n":1}`}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw %v, want %v", got, want)
	}
}
