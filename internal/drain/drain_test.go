package drain

import (
	"io"
	"strings"
	"testing"
)

type tracked struct {
	io.Reader
	read   int64
	closed bool
}

func (t *tracked) Read(p []byte) (int, error) {
	n, err := t.Reader.Read(p)
	t.read += int64(n)
	return n, err
}
func (t *tracked) Close() error { t.closed = true; return nil }

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestCloseIsBounded(t *testing.T) {
	b := &tracked{Reader: endless{}}
	Close(b, 4096)
	if b.read != 4096 || !b.closed {
		t.Fatalf("read %d, closed %v; want 4096, true", b.read, b.closed)
	}
	short := &tracked{Reader: strings.NewReader("abc")}
	Close(short, 4096)
	if short.read != 3 || !short.closed {
		t.Fatalf("short body: read %d, closed %v", short.read, short.closed)
	}
	Close(nil, 1) // no panic
	r := &tracked{Reader: endless{}}
	Discard(r, 10)
	if r.read != 10 || r.closed {
		t.Fatalf("Discard: read %d, closed %v; want 10, false", r.read, r.closed)
	}
}
