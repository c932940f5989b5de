// Package redact renders secrets for humans: at most a known prefix and the
// last four characters, and only when the secret is long enough that four
// characters say nothing useful about it.
package redact

// minRevealLen is the shortest secret body (after its prefix) whose last four
// characters are shown. Shorter secrets are masked completely.
const minRevealLen = 16

// Mask is what stands in for the hidden part of a secret.
const Mask = "***"

// Secret returns s redacted: prefix (which must be a prefix of s, or empty)
// followed by Mask and, when the rest is at least 16 bytes long, its last
// four bytes. An empty s yields "".
func Secret(s, prefix string) string {
	if s == "" {
		return ""
	}
	if len(prefix) > len(s) || s[:len(prefix)] != prefix {
		prefix = ""
	}
	rest := s[len(prefix):]
	if len(rest) < minRevealLen {
		return prefix + Mask
	}
	return prefix + Mask + rest[len(rest)-4:]
}
