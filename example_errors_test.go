package apiauth_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/apiauth/apiauth"
)

// ExampleCheckResponse turns an AudiModal-style 403 into a typed error and
// matches it by kind.
func ExampleCheckResponse() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_7f3a")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":{"code":"INSUFFICIENT_PERMISSIONS",`+
			`"message":"Insufficient permissions for this operation","required_role":"admin"}}`)
	}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/v1/tenants/acme/keys?page=2")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()

	err = apiauth.CheckResponse(resp)
	fmt.Println("forbidden:", errors.Is(err, apiauth.ErrForbidden))
	fmt.Println("insufficient permissions:", errors.Is(err, apiauth.ErrInsufficientPermissions))
	var apiErr *apiauth.Error
	if errors.As(err, &apiErr) {
		fmt.Println("needs role:", apiErr.RequiredRole)
	}
	fmt.Println(err)
	// Output:
	// forbidden: true
	// insufficient permissions: true
	// needs role: admin
	// apiauth: 403 Forbidden: INSUFFICIENT_PERMISSIONS: Insufficient permissions for this operation (required role "admin"; GET /v1/tenants/acme/keys; request id req_7f3a)
}

// ExampleCheckResponse_rateLimited reads the wait out of a 429.
func ExampleCheckResponse_rateLimited() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "1640995200")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"API rate limit exceeded","retry_after":60}}`)
	}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/v1/files")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()

	err = apiauth.CheckResponse(resp)
	fmt.Println("rate limited:", errors.Is(err, apiauth.ErrRateLimited))
	var rl *apiauth.RateLimitError
	if errors.As(err, &rl) {
		fmt.Println("retry after:", rl.RetryAfter)
		fmt.Println("reset:", rl.Reset.UTC())
	}
	var apiErr *apiauth.Error
	if errors.As(err, &apiErr) {
		fmt.Println("code:", apiErr.Code)
	}
	// Output:
	// rate limited: true
	// retry after: 1m0s
	// reset: 2022-01-01 00:00:00 +0000 UTC
	// code: RATE_LIMIT_EXCEEDED
}
