package apiauth

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apiauth/apiauth/transport"
)

// TestREADMEDefaults checks the README's table of defaults against the code.
func TestREADMEDefaults(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	begin, end := strings.Index(s, "<!-- defaults:begin -->"), strings.Index(s, "<!-- defaults:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no defaults table")
	}
	rows := map[string]string{} // "where" cell -> "default" cell
	for _, line := range strings.Split(s[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[3]) == "where" {
			continue
		}
		rows[strings.TrimSpace(cells[3])] = strings.TrimSpace(cells[2])
	}
	mib := func(n int64) string {
		if n >= 1<<20 {
			return strconv.FormatInt(n>>20, 10) + " MiB"
		}
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	want := map[string]string{
		"`CacheOptions.RefreshAhead`":                       DefaultRefreshAhead.String(),
		"`CacheOptions.ExpiryMargin`":                       DefaultExpiryMargin.String(),
		"`CacheOptions.DefaultLifetime`":                    DefaultLifetime.String(),
		"`CacheOptions.RefreshTimeout`":                     DefaultRefreshTimeout.String(),
		"`CacheOptions.MinBackoff`, `MaxBackoff`":           DefaultMinBackoff.String() + " to " + DefaultMaxBackoff.String(),
		"`transport.RetryOptions.MaxAttempts`":              strconv.Itoa(transport.DefaultRetryMaxAttempts),
		"`transport.RetryOptions.MinBackoff`, `MaxBackoff`": transport.DefaultRetryMinBackoff.String() + " to " + transport.DefaultRetryMaxBackoff.String(),
		"`transport.RetryOptions.MaxWait`":                  transport.DefaultRetryMaxWait.String(),
		"`transport.RetryOptions.MaxBufferedBody`":          mib(transport.DefaultRetryMaxBufferedBody),
		"`transport.RetryBudget`": fmt.Sprintf("%d, %d, %d", transport.DefaultBudgetCapacity, transport.DefaultBudgetRetryCost,
			transport.DefaultBudgetTimeoutCost),
		"`transport.PaceOptions.MaxWait`":     transport.DefaultPaceMaxWait.String(),
		"`transport.PaceOptions.Utilization`": strconv.FormatFloat(transport.DefaultPaceUtilization, 'g', -1, 64),
		"`transport.PaceOptions.MaxKeys`":     strconv.Itoa(transport.DefaultPaceMaxKeys),
		"`transport.PaceProbeInterval`":       transport.PaceProbeInterval.String(),
		"`transport.PaceMaxReset`":            transport.PaceMaxReset.String(),
		"`ClientOptions.MaxErrorBody`":        mib(DefaultMaxErrorBody),
		"`ClientOptions.MaxResponseBody`":     mib(DefaultMaxResponseBody),
		"`SourceOptions.MaxResponseSize`":     mib(DefaultMaxTokenResponse),
		"`transport.NewBase`":                 strconv.Itoa(transport.NewBase().MaxIdleConnsPerHost),
	}
	for where, w := range want {
		got, ok := rows[where]
		if !ok {
			t.Errorf("README defaults table has no row for %s", where)
			continue
		}
		if got != w {
			t.Errorf("README says %s defaults to %q; the code says %q", where, got, w)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("README table has %d rows, the test knows %d: keep them in step", len(rows), len(want))
	}
}
