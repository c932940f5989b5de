package jwtclaims

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestTimes(t *testing.T) {
	hdr := seg(`{"alg":"HS256","typ":"JWT"}`)
	for _, tc := range []struct {
		name     string
		tok      string
		exp, iat int64
	}{
		{"both", hdr + "." + seg(`{"exp":1700003600,"iat":1700000000}`) + ".sig", 1700003600, 1700000000},
		{"float exp", hdr + "." + seg(`{"exp":1700003600.5}`) + ".sig", 1700003600, 0},
		{"string exp", hdr + "." + seg(`{"exp":"1700003600","iat":1700000000}`) + ".sig", 0, 1700000000},
		{"zero", hdr + "." + seg(`{"exp":0}`) + ".sig", 0, 0},
		{"negative", hdr + "." + seg(`{"exp":-5}`) + ".sig", 0, 0},
		{"alg none", seg(`{"alg":"none"}`) + "." + seg(`{"exp":1700003600}`) + ".", 1700003600, 0},
		{"array exp", hdr + "." + seg(`{"exp":[1]}`) + ".sig", 0, 0},
		{"not json", hdr + "." + seg(`exp`) + ".sig", 0, 0},
		{"two parts", hdr + "." + seg(`{"exp":1700003600}`), 0, 0},
		{"too long", hdr + "." + seg(`{"exp":1700003600,"p":"`+strings.Repeat("x", DefaultMaxLen)+`"}`) + ".sig", 0, 0},
	} {
		exp, iat := Times(tc.tok, 0)
		if unix(exp) != tc.exp || unix(iat) != tc.iat {
			t.Errorf("%s: exp=%d iat=%d, want %d %d", tc.name, unix(exp), unix(iat), tc.exp, tc.iat)
		}
	}
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func FuzzTimes(f *testing.F) {
	hdr := seg(`{"alg":"HS256","typ":"JWT"}`)
	f.Add(hdr + "." + seg(`{"exp":1700003600,"iat":1700000000}`) + ".sig")
	f.Add(hdr + "." + seg(`{"exp":"1700003600"}`) + ".sig")
	f.Add(seg(`{"alg":"none"}`) + "." + seg(`{"exp":1e308}`) + ".")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		exp, iat := Times(tok, 4096)
		if len(tok) > 4096 && (!exp.IsZero() || !iat.IsZero()) {
			t.Fatal("oversized token parsed")
		}
		if !exp.IsZero() && exp.Unix() <= 0 {
			t.Fatalf("non-positive exp %v", exp)
		}
	})
}
