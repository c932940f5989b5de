package apiauthtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/apiauth/apiauth/apiauthtest"
)

// A fake Artos: exchange a user ID for a JWT, then list the user's
// organization's documents with it.
func Example() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	client := srv.Client() // trusts the server's TLS certificate

	resp, err := client.Post(srv.URL(apiauthtest.Artos)+"/get-access-token", "application/json",
		strings.NewReader(`{"user_id":"`+apiauthtest.ArtosUserID+`"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}

	req, _ := http.NewRequest("GET", srv.URL(apiauthtest.Artos)+"/api/v1/documents/", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var docs []apiauthtest.ArtosItem
	if err := json.NewDecoder(resp.Body).Decode(&docs); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	for _, d := range docs {
		fmt.Println(d.ID, d.OrganizationID)
	}
	fmt.Println("tokens issued:", srv.Stats().Artos.TokensIssued)
	// Output:
	// 200 OK
	// doc_1 org_123
	// doc_2 org_123
	// tokens issued: 1
}

// The next token request fails with 503 and a Retry-After header; the one
// after succeeds.
func ExampleServer_FailTokenRequests() {
	srv := apiauthtest.Start(apiauthtest.Config{})
	defer srv.Close()
	srv.FailTokenRequests(1, apiauthtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second})

	for range 2 {
		resp, err := srv.Client().Post(srv.URL(apiauthtest.Artos)+"/get-access-token", "application/json",
			strings.NewReader(`{"user_id":"`+apiauthtest.ArtosUserID+`"}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, "Retry-After="+resp.Header.Get("Retry-After"))
	}
	fmt.Println("faults:", srv.Stats().Artos.Faults)
	// Output:
	// 503 Retry-After=2
	// 200 Retry-After=
	// faults: 1
}

// An AudiModal access token that expired a minute ago is refused with
// TOKEN_EXPIRED and its expiry.
func ExampleServer_MintAudiModalToken() {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := apiauthtest.Start(apiauthtest.Config{Now: func() time.Time { return now }})
	defer srv.Close()

	expired := srv.MintAudiModalToken(apiauthtest.AudiModalEmail, -time.Minute)
	req, _ := http.NewRequest("GET", srv.URL(apiauthtest.AudiModal)+"/v1/health", nil)
	req.Header.Set("Authorization", "Bearer "+expired)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	fmt.Print(string(body))
	// Output:
	// 401 999
	// {"error":{"code":"TOKEN_EXPIRED","message":"Access token has expired","expires_at":"2024-01-01T11:59:00Z"}}
}
