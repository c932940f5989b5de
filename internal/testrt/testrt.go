// Package testrt holds the one round-tripper adapter the module's tests
// share.
package testrt

import (
	"io"
	"net/http"
)

// Func adapts a function to http.RoundTripper.
type Func func(*http.Request) (*http.Response, error)

// RoundTrip calls f(r).
func (f Func) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TrackedBody is a request or response body that counts the bytes read
// from R and records whether it was closed.
type TrackedBody struct {
	R      io.Reader
	N      int64 // bytes read so far
	Closed bool
}

// Read reads from R, counting.
func (b *TrackedBody) Read(p []byte) (int, error) {
	n, err := b.R.Read(p)
	b.N += int64(n)
	return n, err
}

// Close records the close.
func (b *TrackedBody) Close() error { b.Closed = true; return nil }

// Endless is a reader that never ends: every read fills p.
type Endless struct{}

// Read fills p.
func (Endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
