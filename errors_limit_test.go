package apiauth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// limitTrackedBody counts what was read from it and whether it was closed.
type limitTrackedBody struct {
	r      io.Reader
	read   int64
	closed bool
}

func (b *limitTrackedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *limitTrackedBody) Close() error { b.closed = true; return nil }

// limitEndlessBody never ends: every read fills p.
type limitEndlessBody struct{}

func (limitEndlessBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// An endless error body is read up to the limit (ClientOptions.MaxErrorBody
// for a Client, DefaultMaxErrorBody for CheckResponse) and drained 64 KiB
// further at most.
func TestCheckResponseEndlessBody(t *testing.T) {
	const drain = 64 << 10
	for _, limit := range []int64{0, 1, 4096, 3 << 20} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			body := &limitTrackedBody{r: limitEndlessBody{}}
			resp := &http.Response{StatusCode: 502, Body: body, Header: http.Header{}, ContentLength: -1}
			err := checkResponse(resp, limit, nil)
			var apiErr *Error
			if !errors.As(err, &apiErr) || !errors.Is(err, ErrServer) {
				t.Fatalf("checkResponse = %v, want a server *Error", err)
			}
			eff := limit
			if eff <= 0 {
				eff = DefaultMaxErrorBody
			}
			if int64(len(apiErr.Body)) != eff {
				t.Errorf("len(Body) = %d, want the limit %d", len(apiErr.Body), eff)
			}
			if body.read > eff+drain {
				t.Errorf("read %d bytes of an endless body, want at most limit+64 KiB = %d", body.read, eff+drain)
			}
			if !body.closed {
				t.Error("original body not closed")
			}
			rest, _ := io.ReadAll(resp.Body)
			if int64(len(rest)) != eff {
				t.Errorf("replacement body has %d bytes, want %d", len(rest), eff)
			}
		})
	}
}
