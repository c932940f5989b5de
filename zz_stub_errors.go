package apiauth

// TEMPORARY until errors.go lands from the errors branch.

import (
	"fmt"
	"net/http"

	"github.com/apiauth/apiauth/internal/errkind"
)

type Error struct{ StatusCode int }

func (e *Error) Error() string { return fmt.Sprintf("apiauth: status %d", e.StatusCode) }

func CheckResponse(resp *http.Response) error {
	if resp.StatusCode < 300 {
		return nil
	}
	return &Error{StatusCode: resp.StatusCode}
}

var ErrInvalidCredential = errkind.InvalidCredential
var ErrTokenRefresh = errkind.TokenRefresh
var ErrClosed = errkind.Closed

var ErrInsecureTransport = errkind.InsecureTransport
var ErrUnauthorized = errkind.Unauthorized

func (e *Error) Is(t error) bool { return t == ErrUnauthorized && e.StatusCode == 401 }
