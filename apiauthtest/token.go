package apiauthtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types carried in the "typ" claim of the fake's JWTs, so that a
// refresh token is never accepted as an access token and the other way round.
const (
	typAccess  = "access"
	typRefresh = "refresh"
)

var (
	errTokenInvalid = errors.New("apiauthtest: token invalid")
	errTokenExpired = errors.New("apiauthtest: token expired")
)

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}

// lifetime returns the issue and expiry instants of a token minted at now
// with lifetime ttl: iat is now truncated to the second and exp is iat plus
// ttl rounded up to whole seconds. A negative ttl gives a token that expired
// -ttl ago and was issued -ttl before that.
func lifetime(now time.Time, ttl time.Duration) (iat, exp time.Time) {
	now = now.Truncate(time.Second)
	if ttl < 0 {
		return now.Add(2 * ttl).Truncate(time.Second), now.Add(ttl).Truncate(time.Second)
	}
	return now, now.Add(ttl + time.Second - 1).Truncate(time.Second)
}

// sign mints an HS256 JWT for family iss with the given extra claims. It
// sets iss, typ, iat, exp and a random jti.
func (s *Server) sign(iss Family, typ string, ttl time.Duration, claims jwt.MapClaims) (token string, iat, exp time.Time) {
	iat, exp = lifetime(s.Now(), ttl)
	c := jwt.MapClaims{
		"iss": string(iss),
		"typ": typ,
		"iat": iat.Unix(),
		"exp": exp.Unix(),
		"jti": randomHex(12),
	}
	for k, v := range claims {
		c[k] = v
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	if err != nil {
		// HS256 signing with a non-empty []byte key cannot fail.
		panic("apiauthtest: signing a JWT: " + err.Error())
	}
	return token, iat, exp
}

// verify checks the signature (HS256 with the server's key), the issuer and
// the token type of token, then its expiry against the server's clock. It
// returns the claims and the expiry; the error is errTokenExpired for a
// well-formed token past its exp, errTokenInvalid for anything else.
func (s *Server) verify(token string, iss Family, typ string) (jwt.MapClaims, time.Time, error) {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return nil, time.Time{}, errTokenInvalid
	}
	if claims["iss"] != string(iss) || claims["typ"] != typ {
		return nil, time.Time{}, errTokenInvalid
	}
	expAt, err := claims.GetExpirationTime()
	if err != nil || expAt == nil {
		return nil, time.Time{}, errTokenInvalid
	}
	exp := expAt.Time
	if !s.Now().Before(exp) {
		return claims, exp, errTokenExpired
	}
	return claims, exp, nil
}

// claimString returns the string claim name, or "".
func claimString(c jwt.MapClaims, name string) string {
	v, _ := c[name].(string)
	return v
}
