package leakcheck

import (
	"fmt"
	"testing"
)

func TestSibling(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"at b":                   "xx x",
		"sk_live_abcXYZ019":      "sk_live_xxxYXX777",
		"tk_x1":                  "tk_y7",
		"rj_khud_q":              "xx_xxxx_x", // never becomes sk_live_
		"a\r\nb\x00é":            "x\r\nx\x00é",
		"sk_test_":               "sk_test_",
		"Bearer eyJ0.e30.s_ig-1": "Xxxxxx xxX7.x77.x_xx-7",
	} {
		if got := Sibling(in); got != want {
			t.Errorf("Sibling(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuotes(t *testing.T) {
	msg := func(s string) string { return fmt.Sprintf("apiauth: API key contains whitespace at byte %d", len(s)/2) }
	quoted := func(s string) string { return "apiauth: bad key " + s }
	for _, c := range []struct {
		secret string
		build  func(string) string
		want   bool
	}{
		{"at b", msg, false},              // the template's own text
		{"sk_live_abc def", quoted, true}, // the secret itself
		{"hunter2 x", quoted, true},
		{"", quoted, false},
	} {
		if got := Quotes(c.build(c.secret), c.build(Sibling(c.secret)), c.secret); got != c.want {
			t.Errorf("Quotes for %q = %v, want %v", c.secret, got, c.want)
		}
	}
}
