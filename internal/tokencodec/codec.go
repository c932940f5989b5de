// Package tokencodec is the explicit, secret-bearing encoding of a token
// that the stores (redisstore, filestore) write: apiauth.Token's own
// MarshalJSON redacts on purpose. Entries are versioned and may be sealed
// with AES-GCM, bound to the name they are stored under.
package tokencodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/apiauth/apiauth"
)

// The stored form of a token entry is
//
//	version byte (1) | sealing byte | body
//
// where the sealing byte is sealPlain (body is the JSON below) or sealGCM
// (body is a 12-byte nonce followed by the AES-GCM sealed JSON, with the
// name the entry is stored under (a Redis key, a file name) and the two
// header bytes as additional data, so an entry copied under another name
// does not open). The JSON is our own, not Token's
// MarshalJSON, which redacts on purpose.
const (
	formatVersion = 1
	sealPlain     = 0
	sealGCM       = 1
	// MaxEntrySize caps an entry read back.
	MaxEntrySize = 1 << 20
)

// ErrCorrupt is the cause of every decoding failure. Its message, and the
// messages that wrap it, never quote the entry.
var ErrCorrupt = errkind.New("apiauth: unreadable stored token entry")

// wireToken is the JSON form of a token inside an entry.
type wireToken struct {
	Access  string         `json:"a"`
	Type    string         `json:"t,omitempty"`
	Refresh string         `json:"r,omitempty"`
	Expiry  int64          `json:"e,omitempty"` // Unix nanoseconds; 0 means unknown
	Extra   map[string]any `json:"x,omitempty"`
}

// Codec encodes and decodes token entries, sealing them when it has a key.
// The zero value writes and reads plain entries.
type Codec struct {
	aead  cipher.AEAD // nil: plain entries
	owner string      // names the store in errors, e.g. "redisstore"
}

// New returns a codec sealing with key (16, 24 or 32 bytes; nil for plain
// entries). owner names the store in error messages.
func New(key []byte, owner string) (Codec, error) {
	if key == nil {
		return Codec{owner: owner}, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return Codec{}, errkind.Errorf("apiauth: %s: EncryptionKey must be 16, 24 or 32 bytes, got %d", owner, len(key))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Codec{}, errkind.Errorf("apiauth: %s: %w", owner, err)
	}
	return Codec{aead: aead, owner: owner}, nil
}

// Encode returns the entry for tok stored under name.
func (c Codec) Encode(name string, tok *apiauth.Token) ([]byte, error) {
	w := wireToken{Access: tok.AccessToken, Type: tok.TokenType, Refresh: tok.RefreshToken, Extra: tok.Extra}
	if !tok.Expiry.IsZero() {
		w.Expiry = tok.Expiry.UnixNano()
	}
	body, err := json.Marshal(w)
	if err != nil {
		// The JSON error could quote a value of Extra: leave it out.
		return nil, errkind.New("apiauth: " + c.owner + ": the token's Extra cannot be encoded as JSON")
	}
	if c.aead == nil {
		return append([]byte{formatVersion, sealPlain}, body...), nil
	}
	hdr := []byte{formatVersion, sealGCM}
	out := make([]byte, 0, len(hdr)+c.aead.NonceSize()+len(body)+c.aead.Overhead())
	out = append(out, hdr...)
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, errkind.Errorf("apiauth: %s: %w", c.owner, err)
	}
	out = append(out, nonce...)
	return c.aead.Seal(out, nonce, body, additionalData(name, hdr)), nil
}

// Decode reads an entry stored under name. Every error wraps ErrCorrupt
// and says what is wrong without quoting the entry.
func (c Codec) Decode(name string, data []byte) (*apiauth.Token, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, MaxEntrySize)
	}
	if data[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, data[0])
	}
	hdr, body := data[:2], data[2:]
	switch {
	case hdr[1] == sealPlain && c.aead != nil:
		// A store with a key accepts only entries sealed with it: a plain
		// entry could have been written by anyone with access to the store.
		return nil, fmt.Errorf("%w: entry is not encrypted but an EncryptionKey is set", ErrCorrupt)
	case hdr[1] == sealGCM && c.aead == nil:
		return nil, fmt.Errorf("%w: entry is encrypted and no EncryptionKey is set", ErrCorrupt)
	case hdr[1] == sealGCM:
		ns := c.aead.NonceSize()
		if len(body) < ns+c.aead.Overhead() {
			return nil, fmt.Errorf("%w: encrypted entry too short", ErrCorrupt)
		}
		plain, err := c.aead.Open(nil, body[:ns], body[ns:], additionalData(name, hdr))
		if err != nil {
			return nil, fmt.Errorf("%w: entry does not decrypt with the EncryptionKey (another key, another name, or altered)", ErrCorrupt)
		}
		body = plain
	case hdr[1] != sealPlain:
		return nil, fmt.Errorf("%w: unknown sealing %d", ErrCorrupt, hdr[1])
	}
	var w wireToken
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON", ErrCorrupt)
	}
	if w.Access == "" {
		return nil, fmt.Errorf("%w: no access token", ErrCorrupt)
	}
	tok := &apiauth.Token{AccessToken: w.Access, TokenType: w.Type, RefreshToken: w.Refresh}
	if len(w.Extra) > 0 {
		tok.Extra = w.Extra
	}
	if w.Expiry != 0 {
		tok.Expiry = time.Unix(0, w.Expiry)
	}
	return tok, nil
}

// additionalData binds a sealed entry to its name and header.
func additionalData(name string, hdr []byte) []byte {
	ad := make([]byte, 0, len(hdr)+len(name))
	return append(append(ad, hdr...), name...)
}
