// Package jwtclaims reads the exp and iat claims of a JWT without verifying
// it. The SDK uses them only to schedule refreshes: nothing here decides
// whether a token is trustworthy, and the alg header is ignored.
package jwtclaims

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMaxLen is the longest token Times parses. Longer input is refused
// before any decoding, so a hostile token endpoint cannot make us decode
// megabytes of base64 and JSON.
const DefaultMaxLen = 16 << 10

// Times returns the token's exp and iat claims. A claim that is missing,
// zero, negative, of the wrong JSON type, or in a token that is not a
// well-formed JWT comes back as the zero time. maxLen caps the token's size
// (DefaultMaxLen when maxLen <= 0).
func Times(token string, maxLen int) (exp, iat time.Time) {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	if len(token) > maxLen || strings.Count(token, ".") != 2 {
		return time.Time{}, time.Time{}
	}
	var claims jwt.RegisteredClaims
	p := jwt.NewParser(jwt.WithoutClaimsValidation())
	_, parts, err := p.ParseUnverified(token, &claims)
	if err != nil {
		return time.Time{}, time.Time{}
	}
	// golang-jwt accepts a quoted number ("exp":"1700000000") as a
	// NumericDate; RFC 7519 does not. Look at the raw claims and treat a
	// non-number as missing.
	payload, err := p.DecodeSegment(parts[1])
	if err != nil {
		return time.Time{}, time.Time{}
	}
	var raw struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
	}
	if json.Unmarshal(payload, &raw) != nil {
		return time.Time{}, time.Time{}
	}
	if isNumber(raw.Exp) {
		exp = positive(claims.ExpiresAt)
	}
	if isNumber(raw.Iat) {
		iat = positive(claims.IssuedAt)
	}
	return exp, iat
}

// isNumber reports whether raw is a JSON number.
func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}

func positive(d *jwt.NumericDate) time.Time {
	if d == nil || d.Unix() <= 0 {
		return time.Time{}
	}
	return d.Time
}
