package apiauth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/apiauth/apiauth/internal/testrt"
)

// An endless error body is read up to the limit (ClientOptions.MaxErrorBody
// for a Client, DefaultMaxErrorBody for CheckResponse) and drained 64 KiB
// further at most.
func TestCheckResponseEndlessBody(t *testing.T) {
	const drain = 64 << 10
	for _, limit := range []int64{0, 1, 4096, 3 << 20} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			body := &testrt.TrackedBody{R: testrt.Endless{}}
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
			if body.N > eff+drain {
				t.Errorf("read %d bytes of an endless body, want at most limit+64 KiB = %d", body.N, eff+drain)
			}
			if !body.Closed {
				t.Error("original body not closed")
			}
			rest, _ := io.ReadAll(resp.Body)
			if int64(len(rest)) != eff {
				t.Errorf("replacement body has %d bytes, want %d", len(rest), eff)
			}
		})
	}
}
