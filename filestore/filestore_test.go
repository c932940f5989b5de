package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
)

func TestStoreRoundTripAndPermissions(t *testing.T) {
	ctx := context.Background()
	for _, key := range [][]byte{nil, []byte("0123456789abcdef0123456789abcdef")} {
		dir := filepath.Join(t.TempDir(), "tokens")
		s, err := New(dir, &Options{EncryptionKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if tok, err := s.LoadToken(ctx, "k"); tok != nil || err != nil {
			t.Fatalf("empty store: %v, %v", tok, err)
		}
		want := &apiauth.Token{AccessToken: "access-CANARY-0123456789", RefreshToken: "refresh-CANARY-0123456789",
			TokenType: "Bearer", Expiry: time.Unix(1893456000, 0)}
		if err := s.StoreToken(ctx, "audimodal:user@company.com", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadToken(ctx, "audimodal:user@company.com")
		if err != nil || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken || !got.Expiry.Equal(want.Expiry) {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("%d files, want 1 (no temporary file left)", len(entries))
		}
		fi, _ := os.Stat(filepath.Join(dir, entries[0].Name()))
		di, _ := os.Stat(dir)
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Fatalf("file mode %v, dir mode %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
		}
		if strings.Contains(entries[0].Name(), "user@company.com") {
			t.Fatal("the file name shows the store key")
		}
		raw, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
		if key != nil && strings.Contains(string(raw), "CANARY") {
			t.Fatal("a sealed file shows the token")
		}
	}
}

func TestStoreRefusesWhatItCannotTrust(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain, _ := New(dir, nil)
	sealed, _ := New(dir, &Options{EncryptionKey: []byte("0123456789abcdef")})
	tok := &apiauth.Token{AccessToken: "access-CANARY-0123456789"}
	if err := plain.StoreToken(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	if _, err := sealed.LoadToken(ctx, "k"); !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("a sealed store read a plain file: %v", err)
	}
	if err := sealed.StoreToken(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	// A sealed file copied under another key does not open.
	if err := os.Rename(sealed.path("k"), sealed.path("other")); err != nil {
		t.Fatal(err)
	}
	if _, err := sealed.LoadToken(ctx, "other"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a file moved to another key opened: %v", err)
	}
	if err := os.WriteFile(plain.path("junk"), []byte("\x01\x00{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.LoadToken(ctx, "junk"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("junk: %v", err)
	}
	if _, err := New("", nil); !errors.Is(err, apiauth.ErrInvalidConfig) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := New(dir, &Options{EncryptionKey: []byte("short")}); !errors.Is(err, apiauth.ErrInvalidConfig) {
		t.Fatalf("bad key: %v", err)
	}
	if err := plain.StoreToken(ctx, "k", &apiauth.Token{}); err == nil {
		t.Fatal("an empty token was saved")
	}
}

// A process that restarts after its saved token expired renews it with
// the saved refresh token: no new login.
func TestRestartOnAStaleSavedTokenRefreshes(t *testing.T) {
	ctx := context.Background()
	srv := apiauthtest.NewServer(t)
	dir := t.TempDir()
	const key = "audimodal:user"
	newCache := func() *apiauth.TokenCache {
		store, err := New(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		src, err := apiauth.NewLoginSource(srv.URL(apiauthtest.AudiModal), apiauth.Login{
			Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID,
		}, &apiauth.SourceOptions{HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return apiauth.NewTokenCache(src, &apiauth.CacheOptions{Store: store, StoreKey: key})
	}
	c := newCache()
	first, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Age the saved token: it expired a minute ago, while the process was
	// down; its refresh token is still live.
	store, _ := New(dir, nil)
	saved, err := store.LoadToken(ctx, key)
	if err != nil || saved.RefreshToken != first.RefreshToken {
		t.Fatalf("saved: %v, %v", saved, err)
	}
	saved.Expiry = time.Now().Add(-time.Minute)
	if err := store.StoreToken(ctx, key, saved); err != nil {
		t.Fatal(err)
	}
	c = newCache()
	defer c.Close()
	tok, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats().AudiModal; st.Logins != 1 || st.Refreshes != 1 || st.RefreshRejections != 0 || tok.AccessToken == first.AccessToken {
		t.Fatalf("logins %d, refreshes %d, rejected %d, new token %v; want 1, 1, 0, true", st.Logins, st.Refreshes, st.RefreshRejections, tok.AccessToken != first.AccessToken)
	}
	if again, _ := store.LoadToken(ctx, key); again == nil || again.RefreshToken == first.RefreshToken {
		t.Fatal("the rotated refresh token was not saved")
	}
}
