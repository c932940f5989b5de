package transport

import (
	"net/http"
	"strings"
	"time"
)

// parseHTTPDate reads a date a server sent in Retry-After or a reset
// header: the three HTTP date forms net/http accepts (IMF-fixdate, RFC 850,
// ANSI C), and RFC 1123 with a "UTC" zone instead of "GMT", which some
// servers send and http.ParseTime refuses. Every reader of such headers
// goes through it, so they agree.
func parseHTTPDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return time.Time{}, false
	}
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	if rest, ok := strings.CutSuffix(s, " UTC"); ok {
		if t, err := time.Parse(http.TimeFormat, rest+" GMT"); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
