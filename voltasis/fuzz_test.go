package voltasis

import (
	"encoding/json"
	"testing"

	"github.com/apiauth/apiauth/internal/family"
	"github.com/apiauth/apiauth/internal/leakcheck"
)

// FuzzCreatedKeyAnswer feeds untrusted created-key answers to the
// validation CreateAPIKey adds on top of encoding/json. It may not panic,
// and no error may quote the key.
func FuzzCreatedKeyAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"data":{"id":"key_1","name":"CI/CD Pipeline Key","scopes":["read:users"],"created_at":"2024-06-13T00:00:00Z","expires_at":null,"key":"vk_0123456789abcdef"}}`,
		`{"data":{"id":"key_1","key":"vk_with space_0123456789"}}`,
		`{}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var cw family.Data[createdWire]
		if json.Unmarshal(body, &cw) != nil {
			return
		}
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
	})
}
