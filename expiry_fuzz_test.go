package apiauth

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"
)

// expiryFuzzJWT returns an unsigned-looking JWT whose payload is payload.
func expiryFuzzJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

// FuzzTokenExpiry fuzzes the JWT expiry reader as the token cache uses it:
// exp and iat claims (seconds relative to the moment the token is received,
// so that the interesting region, clocks hours apart, is reachable), with or
// without iat, and an arbitrary claims payload. The schedule derived from it
// is always ordered, and a token whose own claims give it a lifetime
// (exp after iat) is never judged expired on arrival.
func FuzzTokenExpiry(f *testing.F) {
	// exp and iat relative to received, in seconds; withIat; raw payload
	// (used instead of exp/iat when not empty).
	f.Add(int64(3600), int64(0), true, "")                     // a fresh one-hour token
	f.Add(int64(3600+1800), int64(1800), true, "")             // server 30 min ahead
	f.Add(int64(3600-1800), int64(-1800), true, "")            // server 30 min behind
	f.Add(int64(3600+7200), int64(7200), true, "")             // server 2 h ahead
	f.Add(int64(3600-7200), int64(-7200), true, "")            // server 2 h behind: expired by our clock
	f.Add(int64(-60), int64(-120), true, "")                   // really expired a minute ago
	f.Add(int64(1800), int64(-86400), true, "")                // issued a day ago, still valid
	f.Add(int64(3600), int64(0), false, "")                    // exp only
	f.Add(int64(-60), int64(0), false, "")                     // exp only, expired
	f.Add(int64(0), int64(3600), true, "")                     // exp before iat
	f.Add(int64(0), int64(0), false, `{"exp":"1700000000"}`)   // quoted exp: not a NumericDate
	f.Add(int64(0), int64(0), false, `{"exp":1e300,"iat":-1}`) // absurd numbers
	f.Add(int64(0), int64(0), false, `{"exp":9223372036854775807,"iat":1}`)
	f.Add(int64(0), int64(0), false, `{"sub":"user_123"}`) // no exp
	received := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c := NewTokenCache(TokenSourceFunc(nil), nil)
	f.Cleanup(func() { c.Close() })
	f.Fuzz(func(t *testing.T, expRel, iatRel int64, withIat bool, payload string) {
		const span = 100 * 365 * 24 * 3600 // keep relative claims within a century
		expRel, iatRel = expRel%span, iatRel%span
		exp := received.Unix() + expRel
		iat := received.Unix() + iatRel
		built := payload == ""
		if built {
			payload = `{"exp":` + strconv.FormatInt(exp, 10)
			if withIat {
				payload += `,"iat":` + strconv.FormatInt(iat, 10)
			}
			payload += "}"
		}
		tok := &Token{AccessToken: expiryFuzzJWT(payload)}
		got, ok := tokenExpiry(tok, received, 0)
		if !ok {
			if !got.IsZero() {
				t.Fatalf("tokenExpiry = %v, false: want the zero time", got)
			}
		} else if got.IsZero() {
			t.Fatal("tokenExpiry = zero time, true")
		}
		if built && ok && withIat && exp > iat && iat > 0 && !got.After(received) {
			t.Fatalf("exp-iat = %ds, yet judged expired on arrival: expiry %v, received %v", exp-iat, got, received)
		}

		e := c.newEntry(tok, received)
		if e.staleAt.After(e.invalidAt) || e.invalidAt.After(e.expiry) {
			t.Fatalf("schedule out of order: stale %v, invalid %v, expiry %v", e.staleAt, e.invalidAt, e.expiry)
		}
		if !ok && !e.expiry.Equal(received.Add(DefaultLifetime)) {
			t.Fatalf("unknown expiry: got %v, want the default lifetime", e.expiry)
		}
	})
}
