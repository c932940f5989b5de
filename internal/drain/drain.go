// Package drain is the one way apiauth's layers discard a response body
// they will not hand on: read a bounded amount (so the connection can be
// reused when the rest is short) and close it (so an endless body costs no
// more than the bound).
package drain

import "io"

// Close discards at most limit bytes of body, then closes it. A nil body is
// a no-op.
func Close(body io.ReadCloser, limit int64) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, limit)
	_ = body.Close()
}

// Discard reads and discards at most limit bytes of r, leaving it open.
func Discard(r io.Reader, limit int64) {
	_, _ = io.CopyN(io.Discard, r, limit)
}
