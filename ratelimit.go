package apiauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	"github.com/apiauth/apiauth/transport"
)

// identifier is implemented by credentials that can name themselves
// without revealing a secret.
type identifier interface{ identity() string }

func (k APIKey) identity() string      { return secretIdentity("key", k.Secret()) }
func (t StaticToken) identity() string { return secretIdentity("token", t.Secret()) }
func (p HeaderPair) identity() string  { return secretIdentity("pair", p.Secret()) }
func (c *TokenCache) identity() string { return c.id }

// secretIdentity returns kind plus the first 16 hex digits of the SHA-256
// of secret: stable across processes, useless for recovering the secret.
func secretIdentity(kind, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return kind + ":" + hex.EncodeToString(sum[:8])
}

// credentialIdentity names cred for rate-limit bookkeeping: a hash for the
// credential types that have one, else a random id (each client then has its
// own budget).
func credentialIdentity(cred transport.Credential) string {
	if id, ok := cred.(identifier); ok {
		return id.identity()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "client:" + hex.EncodeToString(b[:])
}
