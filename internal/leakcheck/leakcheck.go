// Package leakcheck is the oracle the fuzz tests use to tell a secret
// quoted in a message from a coincidence with the message's fixed text.
//
// A fuzzer soon finds a short secret that happens to be part of a message
// template ("at b" in "whitespace at byte 2"), so "the message contains the
// secret" alone is a false alarm. The test instead builds the same message
// for a sibling of the secret, of the same length and byte classes but with
// every letter and digit changed: text that shows in both messages is
// template; text that shows only in the secret's message was taken from the
// secret.
package leakcheck

import "strings"

// knownPrefixes are kept by Sibling: they decide how a key is parsed, and
// they are not secret.
var knownPrefixes = []string{"sk_live_", "sk_test_", "tk_"}

// Sibling returns a string of s's length and byte classes: a leading
// sk_live_, sk_test_ or tk_ kept, then every ASCII lowercase letter
// replaced by 'x' ('y' where s has an 'x'), uppercase by 'X' ('Y'), digits
// by '7' ('8'), and every other byte kept (underscores, punctuation,
// whitespace, control bytes, non-ASCII). Validation that looks at byte
// classes and prefixes treats s and its sibling alike, and no letter of a
// known prefix is ever produced, so a sibling never gains a prefix.
func Sibling(s string) string {
	keep := 0
	for _, p := range knownPrefixes {
		if strings.HasPrefix(s, p) {
			keep = len(p)
		}
	}
	b := []byte(s)
	for i := keep; i < len(b); i++ {
		switch c := b[i]; {
		case 'a' <= c && c <= 'z':
			b[i] = other(c, 'x', 'y')
		case 'A' <= c && c <= 'Z':
			b[i] = other(c, 'X', 'Y')
		case '0' <= c && c <= '9':
			b[i] = other(c, '7', '8')
		}
	}
	return string(b)
}

func other(c, a, b byte) byte {
	if c == a {
		return b
	}
	return a
}

// Quotes reports whether msg quotes secret: secret appears in msg but not
// in siblingMsg, the message produced the same way for Sibling(secret).
// A secret with no letter or digit after its prefix has itself as sibling
// and is never reported: nothing can tell its text from the template's.
func Quotes(msg, siblingMsg, secret string) bool {
	return secret != "" && strings.Contains(msg, secret) && !strings.Contains(siblingMsg, secret)
}
