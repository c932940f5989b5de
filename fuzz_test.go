package apiauth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/internal/leakcheck"
)

func FuzzParseAPIKey(f *testing.F) {
	for _, s := range []string{liveKey, tenantKey, opaqueKey, "sk_test_", "", "a b", "x\r\nX-Evil: 1", "sk_live_é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseAPIKey(s)
		if err != nil {
			_, serr := ParseAPIKey(leakcheck.Sibling(s))
			if serr == nil {
				t.Fatalf("%q refused (%v) but its sibling %q accepted: the sibling must fail alike", s, err, leakcheck.Sibling(s))
			}
			if leakcheck.Quotes(err.Error(), serr.Error(), s) {
				t.Fatalf("error %q contains the key", err)
			}
			return
		}
		if k.Secret() != s {
			t.Fatal("secret not kept")
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f {
				t.Fatalf("accepted byte %#x", s[i])
			}
		}
		if body := s[len(k.Mode().Prefix()):]; len(body) >= 8 && strings.Contains(k.String(), body) {
			t.Fatalf("String() %q shows the key", k.String())
		}
	})
}

func FuzzLoginResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"eyJ.x.y","refresh_token":"r","token_type":"Bearer","expires_in":3600,"user":{"id":"user_123","role":"admin"}}`))
	f.Add([]byte(`{"access_token":"a","expires_in":"3600"}`))
	f.Add([]byte(`{"access_token":"a","expires_in":-1,"user":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r loginResponse
		if err := json.Unmarshal(data, &r); err != nil {
			return
		}
		now := time.Now()
		tok, err := r.token("/v1/auth/login", now)
		if err != nil {
			// Refused only when there is no usable token: none, or one
			// (or a token_type) that is no valid header value.
			_, okAccess := checkSecret(r.AccessToken)
			_, okType := checkSecret(r.TokenType)
			if r.AccessToken != "" && okAccess && (r.TokenType == "" || okType) {
				t.Fatalf("a valid token refused: %v", err)
			}
			return
		}
		if _, ok := checkSecret(tok.AccessToken); !ok {
			t.Fatalf("token %q accepted, but it is no valid header value", tok.AccessToken)
		}
		if tok.AccessToken == "" {
			t.Fatal("empty access token accepted")
		}
		if !tok.Expiry.IsZero() && !tok.Expiry.After(now.Add(-time.Hour*24*365*100)) {
			t.Fatalf("absurd expiry %v", tok.Expiry)
		}
	})
}
