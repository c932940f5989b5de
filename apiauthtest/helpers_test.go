package apiauthtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiauth/apiauth/apiauthtest"
)

// result is an answer read in full.
type result struct {
	Status int
	Header http.Header
	Body   string
}

// do sends one request with the server's client and reads the answer.
// Headers come in name, value pairs.
func do(t *testing.T, srv *apiauthtest.Server, method, url, body string, headers ...string) result {
	t.Helper()
	res, err := doErr(context.Background(), srv.Client(), method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res
}

func doErr(ctx context.Context, c *http.Client, method, url, body string, headers ...string) (result, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return result{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// want checks the status and, unless wantBody is empty, the exact body
// (ignoring the trailing newline).
func (r result) want(t *testing.T, status int, wantBody string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %q)", r.Status, status, r.Body)
	}
	if wantBody != "" && strings.TrimSpace(r.Body) != wantBody {
		t.Errorf("body = %s\nwant   %s", strings.TrimSpace(r.Body), wantBody)
	}
}

// decode unmarshals the body into a T, failing the test on error.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
	return v
}

// claims verifies tok with the server's key and returns its claims.
func claims(t *testing.T, srv *apiauthtest.Server, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return srv.SigningKey(), nil })
	if err != nil {
		t.Fatalf("token does not verify with SigningKey: %v", err)
	}
	return c
}

// unix reads a NumericDate claim.
func unix(t *testing.T, c jwt.MapClaims, name string) int64 {
	t.Helper()
	v, ok := c[name].(float64)
	if !ok {
		t.Fatalf("claim %s = %v, want a number", name, c[name])
	}
	return int64(v)
}

// fixedClock returns a Config.Now that always answers t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// artosToken gets an Artos token for user over the wire.
func artosToken(t *testing.T, srv *apiauthtest.Server, user string) string {
	t.Helper()
	r := do(t, srv, "POST", srv.URL(apiauthtest.Artos)+"/get-access-token", `{"user_id":"`+user+`"}`)
	r.want(t, http.StatusOK, "")
	return decode[map[string]string](t, r)["access_token"]
}

// tokenPair is AudiModal's login and refresh answer.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	User         struct {
		ID       string `json:"id"`
		Email    string `json:"email"`
		Role     string `json:"role"`
		TenantID string `json:"tenant_id"`
	} `json:"user"`
}

// login logs in over the wire.
func login(t *testing.T, srv *apiauthtest.Server, email, password string) tokenPair {
	t.Helper()
	r := do(t, srv, "POST", srv.URL(apiauthtest.AudiModal)+"/v1/auth/login",
		`{"email":"`+email+`","password":"`+password+`","tenant_id":"`+apiauthtest.AudiModalTenantID+`"}`)
	r.want(t, http.StatusOK, "")
	return decode[tokenPair](t, r)
}
