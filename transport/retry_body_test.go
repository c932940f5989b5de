package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// pipeBody returns a request body of n declared bytes fed through an
// io.Pipe: the producer writes the first `write` bytes, then waits for
// answered to close before closing the pipe, as a producer streaming the
// body of a request whose answer it waits for does. The returned function
// closes answered and waits for the producer to end.
func pipeBody(n, write int) (body io.ReadCloser, data []byte, answered func()) {
	data = bytes.Repeat([]byte("x"), n)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := pw.Write(data[:write]); err != nil {
			return // the reader gave up
		}
		<-stop
		pw.Close()
	}()
	var once sync.Once
	return pr, data, func() {
		once.Do(func() { close(stop) })
		<-done
	}
}

// A body whose producer closes only after the answer, under a context
// with a deadline, returns at the deadline as in plain net/http, and not
// never: the layer reads exactly ContentLength bytes, under the context,
// and never the byte after. Issue 13 row 7.
func TestRetryBodyPipeHonoursDeadline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write int // bytes the producer writes before it waits
	}{
		{"whole body written", 1000},
		{"half of it written", 500},
		{"nothing written", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				<-r.Context().Done() // answers never: only the deadline ends the call
			}))
			defer srv.Close()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			body, _, answered := pipeBody(1000, tc.write)
			defer answered()

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v1/files/f", body)
			req.ContentLength = 1000
			rt := &Retry{Base: tr, RetryOptions: RetryOptions{Rand: retryZero}}
			start := time.Now()
			errc := make(chan error, 1)
			go func() {
				resp, err := rt.RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				answered() // unblock the layer, to report and end cleanly
				err = <-errc
				t.Fatalf("RoundTrip still blocked 5s after a 200ms deadline (then: %v)", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("RoundTrip returned %v after the start, want at the 200ms deadline", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

// The producer closes only after the answer: the answer comes, the body the
// server got is whole, and it is replayed whole on a retry.
func TestRetryBodyPipeAnsweredAndReplayed(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		n := len(got)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	body, data, answered := pipeBody(1000, 1000)
	defer answered()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v1/files/f", body)
	req.ContentLength = int64(len(data))
	rt := &Retry{Base: tr, RetryOptions: RetryOptions{Rand: retryZero}}
	start := time.Now()
	type outcome struct {
		resp *http.Response
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		done <- outcome{resp, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(5 * time.Second):
		t.Error("RoundTrip still blocked after 5s: the producer waits for the answer")
		answered() // unblock the layer, to end cleanly
		o = <-done
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	resp := o.resp
	resp.Body.Close()
	answered()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("RoundTrip took %v", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || len(got) != 2 {
		t.Fatalf("status %d after %d attempts, want 200 after 2", resp.StatusCode, len(got))
	}
	for i, b := range got {
		if !bytes.Equal(b, data) {
			t.Errorf("attempt %d: server got %d bytes, want the %d-byte body", i+1, len(b), len(data))
		}
	}
}

// countingBody counts the bytes read from it before the base was called,
// and fails a read past its declared length there.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// The layer itself reads exactly ContentLength bytes before the first
// attempt; what follows is the base transport's to read. A body longer than
// declared is then not replayed truncated.
func TestRetryBodyNeverReadsPastContentLength(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		calls   int
	}{
		{"exact length, replayed", "0123456789", 2},
		{"longer than declared, not replayed", "0123456789 and more", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(tc.payload)}
			var calls int
			var sent []string
			base := testrt.Func(func(r *http.Request) (*http.Response, error) {
				calls++
				if calls == 1 && body.read.Load() != 10 {
					t.Errorf("layer read %d bytes before the first attempt, want exactly ContentLength (10)", body.read.Load())
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				sent = append(sent, string(b))
				status := http.StatusServiceUnavailable
				if calls > 1 {
					status = http.StatusOK
				}
				return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
			})
			req, _ := http.NewRequest(http.MethodPut, "https://a.test/x", body)
			req.ContentLength = 10
			resp, err := (&Retry{Base: base, RetryOptions: RetryOptions{Rand: retryZero}}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if calls != tc.calls {
				t.Errorf("%d attempts, want %d", calls, tc.calls)
			}
			if sent[0] != tc.payload {
				t.Errorf("first attempt sent %q, want the whole body %q for the base to check", sent[0], tc.payload)
			}
			for i, s := range sent[1:] {
				if s != tc.payload[:10] {
					t.Errorf("attempt %d sent %q, want %q", i+2, s, tc.payload[:10])
				}
			}
		})
	}
}
