package audimodal

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/internal/leakcheck"
)

// FuzzRefreshAnswer feeds untrusted refresh answers to the decoding Refresh
// adds on top of encoding/json. It may not panic, and no error may quote a
// token.
func FuzzRefreshAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","refresh_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.ref","token_type":"Bearer","expires_in":3600,"user":{"id":"user_123","email":"user@company.com","role":"admin","tenant_id":"tenant_123"}}`,
		`{"access_token":"at_0123456789","user":null}`,
		`{"access_token":"at_0123456789","expires_in":"99999999999999999999"}`,
		`{"access_token":"at_0123456789\r\nX-Evil: 1"}`,
		`{}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var w refreshWire
		if json.Unmarshal(body, &w) != nil {
			return
		}
		s, err := w.session("rt_prev_0123456789", time.Unix(1700000000, 0))
		switch {
		case err != nil && len(w.AccessToken) >= 8 && strings.Contains(err.Error(), w.AccessToken):
			sib := w
			sib.AccessToken = leakcheck.Sibling(w.AccessToken)
			_, serr := sib.session("rt_prev_0123456789", time.Unix(1700000000, 0))
			if serr == nil || leakcheck.Quotes(err.Error(), serr.Error(), w.AccessToken) {
				t.Fatalf("error quotes the access token: %v", err)
			}
		case err == nil && (s.Token == nil || s.Token.AccessToken != w.AccessToken || s.Token.RefreshToken == ""):
			t.Fatalf("session %+v from %q", s, body)
		}
	})
}
