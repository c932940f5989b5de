package redisstore_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth/redisstore"
)

// The defaults quoted in the package documentation and in the README's
// "Running a fleet" section are the code's.
func TestDocumentedDefaults(t *testing.T) {
	want := map[string]time.Duration{
		"OpTimeout":    redisstore.DefaultOpTimeout,
		"Lease":        redisstore.DefaultLease,
		"Grace":        redisstore.DefaultGrace,
		"PollInterval": redisstore.DefaultPollInterval,
		// BudgetOptions; its Prefix and OpTimeout are TokenOptions'.
		"ProbeInterval": redisstore.DefaultProbeInterval,
	}
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "min": time.Minute}
	docRow := regexp.MustCompile("(?m)^//\t(\\w+) +(\"[^\"]*\"|\\d+ \\w+|none) ")
	mdRow := regexp.MustCompile("(?m)^\\| `(\\w+)` \\| `?(\"[^\"]*\"|\\d+ \\w+|none)`? \\|")
	check := func(file string, re *regexp.Regexp) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			name, val := m[1], m[2]
			switch {
			case name == "Prefix":
				seen++
				if val != strconv.Quote(redisstore.DefaultPrefix) {
					t.Errorf("%s: Prefix default %s, code has %q", file, val, redisstore.DefaultPrefix)
				}
			case want[name] != 0:
				seen++
				n, unit, _ := strings.Cut(val, " ")
				v, _ := strconv.Atoi(n)
				if got := time.Duration(v) * units[unit]; got != want[name] {
					t.Errorf("%s: %s default %s, code has %v", file, name, val, want[name])
				}
			}
		}
		if seen != len(want)+1 {
			t.Errorf("%s: found %d documented defaults, want %d", file, seen, len(want)+1)
		}
	}
	check("doc.go", docRow)
	for _, md := range []string{"../README.md"} {
		if data, err := os.ReadFile(md); err == nil && strings.Contains(string(data), "## Running a fleet") {
			check(md, mdRow)
		}
	}
}
