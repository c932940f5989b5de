package tokencodec

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestCodecRoundTrip(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	toks := []*apiauth.Token{
		{AccessToken: "a"},
		{AccessToken: "a", TokenType: "MAC", RefreshToken: "r", Expiry: exp,
			Extra: map[string]any{"user": map[string]any{"id": "u", "n": 1.5, "l": []any{"x", nil, false}}}},
	}
	for _, key := range [][]byte{nil, testKey} {
		c, err := New(key, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			data, err := c.Encode("k", tok)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode("k", data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Expiry.Equal(tok.Expiry) {
				t.Errorf("Expiry = %v, want %v", got.Expiry, tok.Expiry)
			}
			g, w := *got, *tok
			g.Expiry, w.Expiry = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("sealed=%v: decode(encode(tok)) differs from tok", key != nil)
			}
		}
	}
}

// Sealing uses a fresh nonce each time: the same token never gives the same
// entry twice.
func TestCodecFreshNonces(t *testing.T) {
	c, _ := New(testKey, "test")
	tok := &apiauth.Token{AccessToken: "a"}
	a, _ := c.Encode("k", tok)
	b, _ := c.Encode("k", tok)
	if bytes.Equal(a, b) {
		t.Error("two sealings of one token are equal")
	}
}

// FuzzDecode feeds Decode arbitrary entries (what a store hands back is
// untrusted): it never panics, every failure wraps ErrCorrupt, and what it
// accepts encodes and decodes back to itself.
func FuzzDecode(f *testing.F) {
	plain, _ := New(nil, "test")
	sealed, _ := New(testKey, "test")
	tok := &apiauth.Token{AccessToken: "eyJ.a.b", TokenType: "Bearer", RefreshToken: "r",
		Expiry: time.Unix(1893456000, 0), Extra: map[string]any{"user": map[string]any{"id": "u"}}}
	for _, c := range []Codec{plain, sealed} {
		data, _ := c.Encode("k", tok)
		f.Add(data, c.aead != nil)
	}
	for _, s := range []string{"", "\x01", "\x01\x00", "\x01\x00{}", "\x01\x00{\"a\":\"x\",\"e\":-1}", "\x01\x01" + strings.Repeat("\x00", 40), "\x02\x00{\"a\":\"x\"}", "\x01\x00null", "\x01\x00{\"a\":\"x\",\"x\":{\"k\":[1,{\"z\":null}]}}"} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, useKey bool) {
		c := plain
		if useKey {
			c = sealed
		}
		got, err := c.Decode("k", data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got.AccessToken == "" {
			t.Fatal("decoded a token without access token")
		}
		again, err := c.Encode("k", got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decode("k", again)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Expiry.Equal(got.Expiry) || back.AccessToken != got.AccessToken || back.RefreshToken != got.RefreshToken ||
			back.TokenType != got.TokenType || !reflect.DeepEqual(back.Extra, got.Extra) {
			t.Fatal("re-encoded token differs")
		}
	})
}
