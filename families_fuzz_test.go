package apiauth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apiauth/apiauth/internal/leakcheck"
)

// FuzzFamilyAnswers feeds untrusted answers to the decoding the typed
// family endpoints add on top of encoding/json: an AudiModal login or
// refresh answer into a session, and a Voltasis created-key answer into a
// StaticToken. Neither may panic, and no error may quote a token.
func FuzzFamilyAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","refresh_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.ref","token_type":"Bearer","expires_in":3600,"user":{"id":"user_123","email":"user@company.com","role":"admin","tenant_id":"tenant_123"}}`,
		`{"access_token":"at_0123456789","user":null}`,
		`{"access_token":"at_0123456789","user":"at_0123456789"}`,
		`{"access_token":"at_0123456789","expires_in":"99999999999999999999"}`,
		`{"data":{"id":"key_1","name":"CI/CD Pipeline Key","scopes":["read:users"],"created_at":"2024-06-13T00:00:00Z","expires_at":null,"key":"vk_0123456789abcdef"}}`,
		`{"data":{"id":"key_1","key":"vk_with space_0123456789"}}`,
		`{}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var lr loginResponse
		if json.Unmarshal(body, &lr) == nil {
			s, err := lr.session("/v1/auth/login", "rt_prev_0123456789")
			switch {
			case err != nil && len(lr.AccessToken) >= 8 && strings.Contains(err.Error(), lr.AccessToken):
				sib := lr
				sib.AccessToken = leakcheck.Sibling(lr.AccessToken)
				_, serr := sib.session("/v1/auth/login", "rt_prev_0123456789")
				if serr == nil || leakcheck.Quotes(err.Error(), serr.Error(), lr.AccessToken) {
					t.Fatalf("error quotes the access token: %v", err)
				}
			case err == nil && (s.Token == nil || s.Token.AccessToken != lr.AccessToken || s.Token.RefreshToken == ""):
				t.Fatalf("session %+v from %q", s, body)
			}
		}
		var cw familyData[voltasisCreatedWire]
		if json.Unmarshal(body, &cw) == nil {
			key, err := cw.Data.secret()
			if err != nil {
				sib := cw.Data
				sib.Key = leakcheck.Sibling(cw.Data.Key)
				_, serr := sib.secret()
				if serr == nil {
					t.Fatalf("key %q refused (%v) but its sibling %q accepted", cw.Data.Key, err, sib.Key)
				}
				if leakcheck.Quotes(err.Error(), serr.Error(), cw.Data.Key) {
					t.Fatalf("error quotes the key: %v", err)
				}
			}
			if err == nil && key.Secret() != cw.Data.Key {
				t.Fatal("secret changed")
			}
		}
	})
}
