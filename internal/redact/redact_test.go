package redact

import "testing"

func TestSecret(t *testing.T) {
	for _, tc := range []struct{ s, prefix, want string }{
		{"", "", ""},
		{"short", "", "***"},
		{"sk_live_1234567890abcdef", "sk_live_", "sk_live_***cdef"},
		{"sk_live_1234", "sk_live_", "sk_live_***"},
		{"0123456789abcdefWXYZ", "", "***WXYZ"},
		{"abc", "abcdef", "***"},
		{"xyz_0123456789abcdef", "abc_", "***cdef"},
	} {
		if got := Secret(tc.s, tc.prefix); got != tc.want {
			t.Errorf("Secret(%q, %q) = %q, want %q", tc.s, tc.prefix, got, tc.want)
		}
	}
}
