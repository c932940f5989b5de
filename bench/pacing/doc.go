// Package pacing is a measurement harness, not a library: its tests and
// benchmarks run apiauth's client (the transport.New stack with default Pace
// and Retry) against rate limiters that nobody on this project wrote, beside
// other clients, over loopback servers that the tests start.
//
// It is a nested module so that the limiter libraries stay out of the main
// module's graph:
//
//	cd bench/pacing && go test -race ./...
//	cd bench/pacing && go test -run '^$' -bench BenchmarkPacingMatrix -benchtime=1x -benchmem
//
// The Node limiters (express-rate-limit, rolling-rate-limiter) need
// `npm ci --ignore-scripts` in testdata/node.
package pacing
