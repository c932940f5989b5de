package apiauth

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apiauth/apiauth/internal/jwtclaims"
	"github.com/apiauth/apiauth/internal/redact"
)

// Token is an access token with what is known about it. Its zero Expiry
// means the lifetime is unknown: a [TokenCache] then reads the JWT exp claim
// and, failing that, applies its default lifetime.
//
// A Token prints redacted under every fmt verb, encoding/json and log/slog.
// Hold it by pointer (*Token) inside your own structs: fmt prints an
// unexported field holding a Token by value without calling its methods.
type Token struct {
	// AccessToken is the secret sent to the API.
	AccessToken string
	// TokenType is the authorization scheme; empty means "Bearer".
	TokenType string
	// RefreshToken, if not empty, renews the token (AudiModal's
	// /v1/auth/refresh). Treat it as single-use.
	RefreshToken string
	// Expiry is when the token stops being valid, in local time. Zero means
	// unknown.
	Expiry time.Time
	// Extra holds other fields of the token response (for example AudiModal's
	// "user" object). Its values never print.
	Extra map[string]any
}

// Type returns the authorization scheme: TokenType with its case fixed for
// the common schemes, or "Bearer" when empty.
func (t Token) Type() string {
	switch {
	case t.TokenType == "", strings.EqualFold(t.TokenType, "bearer"):
		return "Bearer"
	case strings.EqualFold(t.TokenType, "mac"):
		return "MAC"
	case strings.EqualFold(t.TokenType, "basic"):
		return "Basic"
	}
	return t.TokenType
}

// String returns a redacted one-line description of the token.
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("apiauth.Token{type: ")
	b.WriteString(t.Type())
	b.WriteString(", access: ")
	b.WriteString(strconv.Quote(redact.Secret(t.AccessToken, "")))
	if t.RefreshToken != "" {
		b.WriteString(", refresh: ")
		b.WriteString(strconv.Quote(redact.Secret(t.RefreshToken, "")))
	}
	b.WriteString(", expiry: ")
	if t.Expiry.IsZero() {
		b.WriteString("unknown")
	} else {
		b.WriteString(t.Expiry.UTC().Format(time.RFC3339))
	}
	if len(t.Extra) > 0 {
		b.WriteString(", extra: [")
		b.WriteString(strings.Join(t.extraKeys(), " "))
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

func (t Token) extraKeys() []string {
	keys := make([]string, 0, len(t.Extra))
	for k := range t.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// goString returns, for %#v, the same redacted form as String.
func (t Token) goString() string { return t.String() }

// Format prints the token redacted under every verb.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.goString()) }

// MarshalJSON encodes the token redacted. It is meant for logs and debug
// output; it cannot be used to persist a token.
func (t Token) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString(`{"token_type":`)
	b.WriteString(strconv.Quote(t.Type()))
	b.WriteString(`,"access_token":`)
	b.WriteString(strconv.Quote(redact.Secret(t.AccessToken, "")))
	if t.RefreshToken != "" {
		b.WriteString(`,"refresh_token":`)
		b.WriteString(strconv.Quote(redact.Secret(t.RefreshToken, "")))
	}
	if !t.Expiry.IsZero() {
		b.WriteString(`,"expiry":`)
		b.WriteString(strconv.Quote(t.Expiry.UTC().Format(time.RFC3339)))
	}
	b.WriteString("}")
	return []byte(b.String()), nil
}

// LogValue logs the token redacted.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("type", t.Type()),
		slog.String("access_token", redact.Secret(t.AccessToken, "")),
	}
	if t.RefreshToken != "" {
		attrs = append(attrs, slog.String("refresh_token", redact.Secret(t.RefreshToken, "")))
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	return slog.GroupValue(attrs...)
}

// TokenSource fetches tokens. Token must honour ctx: return promptly with an
// error wrapping ctx.Err() once ctx is done. A [TokenCache] calls its source
// from one goroutine at a time; sources used elsewhere document their own
// concurrency rules.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// TokenRenewer is implemented by sources that can renew a token they issued,
// for example with its refresh token. A [TokenCache] calls RenewToken with
// the current token instead of Token when it has one.
type TokenRenewer interface {
	RenewToken(ctx context.Context, prev *Token) (*Token, error)
}

// TokenSourceFunc adapts a function to [TokenSource].
type TokenSourceFunc func(ctx context.Context) (*Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }

// maxClockSkew bounds the skew correction: a JWT whose iat is more than this
// before the local clock, and whose exp is still ahead of it, is judged by
// its exp against the local clock instead, as it was more likely issued long
// ago (and handed out again) than by a server this far off. An iat in the
// future, or an exp already past, can only mean the clocks disagree, and is
// corrected however far off.
const maxClockSkew = time.Hour

// tokenExpiry works out when tok expires in local time, for a token received
// at the local time received. It prefers tok.Expiry (from expires_in or the
// source), then the JWT's exp claim: when the JWT also carries iat, the
// lifetime exp-iat is applied to received, so a client clock minutes or
// hours off still refreshes on time. It reports false when nothing is known.
func tokenExpiry(tok *Token, received time.Time, maxLen int) (time.Time, bool) {
	if !tok.Expiry.IsZero() {
		return tok.Expiry, true
	}
	exp, iat := jwtclaims.Times(tok.AccessToken, maxLen)
	if exp.IsZero() {
		return time.Time{}, false
	}
	if !iat.IsZero() && exp.After(iat) {
		if !iat.Before(received.Add(-maxClockSkew)) || !exp.After(received) {
			return received.Add(exp.Sub(iat)), true
		}
	}
	return exp, true
}

// checkTokenHeader validates what of tok goes into the Authorization header,
// with the validator of static keys ([NewStaticToken], [ParseAPIKey]): the
// access token, and the token type when set, must be visible ASCII with no
// whitespace or control character (a trailing newline from a token endpoint
// included). from names where the token came from. The error is a
// [*CredentialError], which never quotes the token.
func checkTokenHeader(tok *Token, from string) error {
	if reason, ok := checkSecret(tok.AccessToken); !ok {
		return &CredentialError{Source: from + " access_token", Reason: reason}
	}
	if tok.TokenType != "" {
		if reason, ok := checkSecret(tok.TokenType); !ok {
			return &CredentialError{Source: from + " token_type", Reason: reason}
		}
	}
	return nil
}
