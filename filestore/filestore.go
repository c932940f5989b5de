// Package filestore keeps an [apiauth.TokenCache]'s tokens in files, so
// they survive a restart: a cache given a [TokenStore] starts from the
// token saved by the last run (adopting it while it is fresh, renewing it
// with its refresh token once it is stale) and saves every token it gets,
// each rotated refresh token included. A process restarted on a single-use
// refresh token therefore makes no new login.
//
// apiauth.Token's MarshalJSON redacts on purpose; the files use an explicit
// encoding of their own (shared with package redisstore), sealed with
// AES-GCM when [Options.EncryptionKey] is set. Files are written with mode
// 0600 in a directory created with mode 0700, by write-and-rename, so a
// crash never leaves half a token behind.
//
// For several processes (or machines) sharing one credential, use package
// redisstore, whose store also serializes their refreshes.
package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apiauth/apiauth/internal/errkind"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/internal/tokencodec"
)

// ErrCorrupt is the cause of every failure to read a saved token: a file
// too short or too long, of an unknown format, sealed with another key or
// altered. Its message never quotes the file.
var ErrCorrupt = tokencodec.ErrCorrupt

// Options configures a [TokenStore]. The zero value stores plain entries.
type Options struct {
	// EncryptionKey, if set, seals every file with AES-GCM (16, 24 or 32
	// bytes: AES-128, -192 or -256), bound to its store key. A store with a
	// key refuses plain files, and one without refuses sealed ones.
	EncryptionKey []byte
}

// TokenStore is an [apiauth.TokenStore] over files in one directory, one
// file per store key. It is safe for concurrent use within a process.
type TokenStore struct {
	dir   string
	codec tokencodec.Codec
}

// New returns a store keeping its files in dir, which it creates (mode
// 0700) if needed. opts may be nil; it is not retained.
func New(dir string, opts *Options) (*TokenStore, error) {
	if dir == "" {
		return nil, errkind.Errorf("apiauth: filestore: empty directory: %w", apiauth.ErrInvalidConfig)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	c, err := tokencodec.New(o.EncryptionKey, "filestore")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, apiauth.ErrInvalidConfig)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errkind.Errorf("apiauth: filestore: %w", err)
	}
	return &TokenStore{dir: dir, codec: c}, nil
}

// path names key's file: a hash, so a key holding an e-mail address or a
// slash names no file by itself.
func (s *TokenStore) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:16])+".token")
}

// LoadToken returns the token saved under key, or nil when there is none.
// A file that cannot be read back is an error wrapping [ErrCorrupt].
func (s *TokenStore) LoadToken(_ context.Context, key string) (*apiauth.Token, error) {
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.Errorf("apiauth: filestore: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, tokencodec.MaxEntrySize+1))
	if err != nil {
		return nil, errkind.Errorf("apiauth: filestore: %w", err)
	}
	return s.codec.Decode(key, data)
}

// StoreToken saves tok under key, replacing the previous file atomically.
func (s *TokenStore) StoreToken(_ context.Context, key string, tok *apiauth.Token) error {
	if tok == nil || tok.AccessToken == "" {
		return errkind.New("apiauth: filestore: no token to save")
	}
	data, err := s.codec.Encode(key, tok)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, ".token-*")
	if err != nil {
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	if err := f.Close(); err != nil {
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	if err := os.Rename(tmp, s.path(key)); err != nil {
		return errkind.Errorf("apiauth: filestore: %w", err)
	}
	return nil
}

var _ apiauth.TokenStore = (*TokenStore)(nil)
