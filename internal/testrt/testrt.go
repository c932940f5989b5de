// Package testrt holds the one round-tripper adapter the module's tests
// share.
package testrt

import "net/http"

// Func adapts a function to http.RoundTripper.
type Func func(*http.Request) (*http.Response, error)

// RoundTrip calls f(r).
func (f Func) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
