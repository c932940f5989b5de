package drain

import (
	"strings"
	"testing"

	"github.com/apiauth/apiauth/internal/testrt"
)

func TestCloseIsBounded(t *testing.T) {
	b := &testrt.TrackedBody{R: testrt.Endless{}}
	Close(b, 4096)
	if b.N != 4096 || !b.Closed {
		t.Fatalf("read %d, closed %v; want 4096, true", b.N, b.Closed)
	}
	short := &testrt.TrackedBody{R: strings.NewReader("abc")}
	Close(short, 4096)
	if short.N != 3 || !short.Closed {
		t.Fatalf("short body: read %d, closed %v", short.N, short.Closed)
	}
	Close(nil, 1) // no panic
	r := &testrt.TrackedBody{R: testrt.Endless{}}
	Discard(r, 10)
	if r.N != 10 || r.Closed {
		t.Fatalf("Discard: read %d, closed %v; want 10, false", r.N, r.Closed)
	}
}
