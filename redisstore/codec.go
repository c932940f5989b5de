package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apiauth/apiauth"
)

// The stored form of a token entry is
//
//	version byte (1) | sealing byte | body
//
// where the sealing byte is sealPlain (body is the JSON below) or sealGCM
// (body is a 12-byte nonce followed by the AES-GCM sealed JSON, with the
// Redis key and the two header bytes as additional data, so an entry copied
// under another key does not open). The JSON is our own, not Token's
// MarshalJSON, which redacts on purpose.
const (
	formatVersion = 1
	sealPlain     = 0
	sealGCM       = 1
	// maxEntrySize caps the entry read back from Redis.
	maxEntrySize = 1 << 20
)

// errCorrupt is the cause of every decoding failure. Its message, and the
// messages that wrap it, never quote the entry.
var errCorrupt = errors.New("apiauth: redisstore: unreadable token entry")

// wireToken is the JSON form of a token inside an entry.
type wireToken struct {
	Access  string         `json:"a"`
	Type    string         `json:"t,omitempty"`
	Refresh string         `json:"r,omitempty"`
	Expiry  int64          `json:"e,omitempty"` // Unix nanoseconds; 0 means unknown
	Extra   map[string]any `json:"x,omitempty"`
}

// codec encodes and decodes token entries, sealing them when aead is set.
type codec struct {
	aead cipher.AEAD // nil: plain entries
}

func newCodec(key []byte) (codec, error) {
	if key == nil {
		return codec{}, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return codec{}, fmt.Errorf("apiauth: redisstore: EncryptionKey must be 16, 24 or 32 bytes, got %d", len(key))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return codec{}, fmt.Errorf("apiauth: redisstore: %w", err)
	}
	return codec{aead: aead}, nil
}

// encode returns the entry for tok stored under the Redis key redisKey.
func (c codec) encode(redisKey string, tok *apiauth.Token) ([]byte, error) {
	w := wireToken{Access: tok.AccessToken, Type: tok.TokenType, Refresh: tok.RefreshToken, Extra: tok.Extra}
	if !tok.Expiry.IsZero() {
		w.Expiry = tok.Expiry.UnixNano()
	}
	body, err := json.Marshal(w)
	if err != nil {
		// The JSON error could quote a value of Extra: leave it out.
		return nil, errors.New("apiauth: redisstore: the token's Extra cannot be encoded as JSON")
	}
	if c.aead == nil {
		return append([]byte{formatVersion, sealPlain}, body...), nil
	}
	hdr := []byte{formatVersion, sealGCM}
	out := make([]byte, 0, len(hdr)+c.aead.NonceSize()+len(body)+c.aead.Overhead())
	out = append(out, hdr...)
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("apiauth: redisstore: %w", err)
	}
	out = append(out, nonce...)
	return c.aead.Seal(out, nonce, body, additionalData(redisKey, hdr)), nil
}

// decode reads an entry stored under redisKey. Every error wraps
// errCorrupt and says what is wrong without quoting the entry.
func (c codec) decode(redisKey string, data []byte) (*apiauth.Token, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: too short", errCorrupt)
	}
	if len(data) > maxEntrySize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errCorrupt, maxEntrySize)
	}
	if data[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", errCorrupt, data[0])
	}
	hdr, body := data[:2], data[2:]
	switch {
	case hdr[1] == sealPlain && c.aead != nil:
		// A store with a key accepts only entries sealed with it: a plain
		// entry could have been written by anyone with access to Redis.
		return nil, fmt.Errorf("%w: entry is not encrypted but an EncryptionKey is set", errCorrupt)
	case hdr[1] == sealGCM && c.aead == nil:
		return nil, fmt.Errorf("%w: entry is encrypted and no EncryptionKey is set", errCorrupt)
	case hdr[1] == sealGCM:
		ns := c.aead.NonceSize()
		if len(body) < ns+c.aead.Overhead() {
			return nil, fmt.Errorf("%w: encrypted entry too short", errCorrupt)
		}
		plain, err := c.aead.Open(nil, body[:ns], body[ns:], additionalData(redisKey, hdr))
		if err != nil {
			return nil, fmt.Errorf("%w: entry does not decrypt with the EncryptionKey (another key, another Redis key, or altered)", errCorrupt)
		}
		body = plain
	case hdr[1] != sealPlain:
		return nil, fmt.Errorf("%w: unknown sealing %d", errCorrupt, hdr[1])
	}
	var w wireToken
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON", errCorrupt)
	}
	if w.Access == "" {
		return nil, fmt.Errorf("%w: no access token", errCorrupt)
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

// additionalData binds a sealed entry to its Redis key and header.
func additionalData(redisKey string, hdr []byte) []byte {
	ad := make([]byte, 0, len(hdr)+len(redisKey))
	return append(append(ad, hdr...), redisKey...)
}
