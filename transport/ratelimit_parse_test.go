package transport

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

// rlParseNow is the clock used by the parser tables: 2021-12-31T23:00:00Z, an
// hour before the AudiModal example's reset.
var rlParseNow = time.Unix(1640991600, 0)

func rlHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseRateLimit(t *testing.T) {
	now := rlParseNow
	tests := []struct {
		name string
		h    http.Header
		opts ParseOptions
		want RateLimit
	}{
		{
			name: "AudiModal 200",
			h:    rlHeader("X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "999", "X-RateLimit-Reset", "1640995200"),
			want: RateLimit{Limit: 1000, Remaining: 999, Used: 1, Reset: time.Unix(1640995200, 0)},
		},
		{
			name: "AudiModal 429",
			h:    rlHeader("X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1640995200"),
			want: RateLimit{Limit: 1000, Remaining: 0, Used: 1000, Reset: time.Unix(1640995200, 0)},
		},
		{
			name: "GitHub with used and resource",
			h: rlHeader("x-ratelimit-limit", "5000", "x-ratelimit-remaining", "4987", "x-ratelimit-reset", "1640993000",
				"x-ratelimit-used", "13", "x-ratelimit-resource", "core"),
			want: RateLimit{Limit: 5000, Remaining: 4987, Used: 13, Reset: time.Unix(1640993000, 0), Resource: "core"},
		},
		{
			name: "epoch milliseconds",
			h:    rlHeader("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59", "X-RateLimit-Reset", "1640995200123"),
			want: RateLimit{Limit: 60, Remaining: 59, Used: 1, Reset: time.UnixMilli(1640995200123)},
		},
		{
			name: "seconds until reset",
			h:    rlHeader("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "10", "X-RateLimit-Reset", "42"),
			want: RateLimit{Limit: 60, Remaining: 10, Used: 50, Reset: now.Add(42 * time.Second)},
		},
		{
			name: "Envoy draft-03 style limit with window",
			h:    rlHeader("X-RateLimit-Limit", "10, 10;w=60", "X-RateLimit-Remaining", "9", "X-RateLimit-Reset", "45"),
			want: RateLimit{Limit: 10, Remaining: 9, Used: 1, Reset: now.Add(45 * time.Second), Window: time.Minute},
		},
		{
			name: "decimal seconds until reset",
			h:    rlHeader("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "1.5"),
			want: RateLimit{Limit: -1, Remaining: 3, Used: -1, Reset: now.Add(1500 * time.Millisecond)},
		},
		{
			name: "HTTP date reset",
			h:    rlHeader("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "Sat, 01 Jan 2022 00:00:00 GMT"),
			want: RateLimit{Limit: -1, Remaining: 3, Used: -1, Reset: time.Unix(1640995200, 0)},
		},
		{
			name: "forced epoch seconds on a small value",
			h:    rlHeader("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "30"),
			opts: ParseOptions{ResetFormat: ResetEpochSeconds},
			want: RateLimit{Limit: -1, Remaining: 3, Used: -1, Reset: time.Unix(30, 0)},
		},
		{
			name: "forced delta on an epoch-sized value",
			h:    rlHeader("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "1000000000"),
			opts: ParseOptions{ResetFormat: ResetDelta},
			want: RateLimit{Limit: -1, Remaining: 3, Used: -1, Reset: now.Add(1e9 * time.Second)},
		},
		{
			name: "forced epoch millis",
			h:    rlHeader("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "1640995200"),
			opts: ParseOptions{ResetFormat: ResetEpochMillis},
			want: RateLimit{Limit: -1, Remaining: 3, Used: -1, Reset: time.UnixMilli(1640995200)},
		},
		{
			name: "IETF separate fields",
			h:    rlHeader("RateLimit-Limit", "100", "RateLimit-Remaining", "50", "RateLimit-Reset", "5"),
			want: RateLimit{Limit: 100, Remaining: 50, Used: 50, Reset: now.Add(5 * time.Second)},
		},
		{
			name: "IETF separate fields with quota policies",
			h:    rlHeader("RateLimit-Limit", "10, 10;w=1, 50;w=60", "RateLimit-Remaining", "9", "RateLimit-Reset", "1"),
			want: RateLimit{Limit: 10, Remaining: 9, Used: 1, Reset: now.Add(time.Second), Window: time.Second},
		},
		{
			name: "IETF oldest drafts' window parameter",
			h:    rlHeader("RateLimit-Limit", "100;window=60", "RateLimit-Remaining", "1", "RateLimit-Reset", "30"),
			want: RateLimit{Limit: 100, Remaining: 1, Used: 99, Reset: now.Add(30 * time.Second), Window: time.Minute},
		},
		{
			name: "IETF separate fields with a policy field",
			h:    rlHeader("RateLimit-Limit", "100", "RateLimit-Remaining", "1", "RateLimit-Reset", "30", "RateLimit-Policy", "100;w=60"),
			want: RateLimit{Limit: 100, Remaining: 1, Used: 99, Reset: now.Add(30 * time.Second), Window: time.Minute},
		},
		{
			name: "IETF -07 dictionary",
			h:    rlHeader("RateLimit", "limit=100, remaining=50, reset=5", "RateLimit-Policy", "100;w=10"),
			want: RateLimit{Limit: 100, Remaining: 50, Used: 50, Reset: now.Add(5 * time.Second), Window: 10 * time.Second},
		},
		{
			name: "IETF -07 dictionary without policy",
			h:    rlHeader("RateLimit", "limit=100, remaining=0, reset=59"),
			want: RateLimit{Limit: 100, Remaining: 0, Used: 100, Reset: now.Add(59 * time.Second)},
		},
		{
			name: "IETF -08 list",
			h:    rlHeader("RateLimit", `"default";r=50;t=30`, "RateLimit-Policy", `"default";q=100;w=60`),
			want: RateLimit{Limit: 100, Remaining: 50, Used: 50, Reset: now.Add(30 * time.Second), Window: time.Minute, Resource: "default"},
		},
		{
			name: "IETF -08 list with token names",
			h:    rlHeader("RateLimit", `default;r=5;t=2`, "RateLimit-Policy", `default;q=10;w=1`),
			want: RateLimit{Limit: 10, Remaining: 5, Used: 5, Reset: now.Add(2 * time.Second), Window: time.Second, Resource: "default"},
		},
		{
			name: "IETF -08 picks the policy that binds first",
			h: rlHeader("RateLimit", `"burst";r=50;t=30, "daily";r=0;t=3600`,
				"RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`),
			want: RateLimit{Limit: 1000, Remaining: 0, Used: 1000, Reset: now.Add(time.Hour), Window: 24 * time.Hour, Resource: "daily"},
		},
		{
			name: "IETF -08 policy on a second header line",
			h:    rlHeader("RateLimit", `"burst";r=7;t=3`, "RateLimit-Policy", `"daily";q=1000;w=86400`, "RateLimit-Policy", `"burst";q=10;w=5`),
			want: RateLimit{Limit: 10, Remaining: 7, Used: 3, Reset: now.Add(3 * time.Second), Window: 5 * time.Second, Resource: "burst"},
		},
		{
			name: "structured field wins over X-RateLimit, X-RateLimit-Used still read",
			h: rlHeader("RateLimit", `"default";r=5;t=2`, "RateLimit-Policy", `"default";q=10;w=1`,
				"X-RateLimit-Limit", "999", "X-RateLimit-Remaining", "998", "X-RateLimit-Reset", "1640995200", "X-RateLimit-Used", "4"),
			want: RateLimit{Limit: 10, Remaining: 5, Used: 4, Reset: now.Add(2 * time.Second), Window: time.Second, Resource: "default"},
		},
		{
			name: "missing fields filled from a lower family",
			h:    rlHeader("RateLimit-Remaining", "7", "X-RateLimit-Limit", "10", "X-RateLimit-Reset", "1640995200"),
			want: RateLimit{Limit: 10, Remaining: 7, Used: 3, Reset: time.Unix(1640995200, 0)},
		},
		{
			name: "policy alone",
			h:    rlHeader("RateLimit-Policy", `"default";q=100;w=60`),
			want: RateLimit{Limit: 100, Remaining: -1, Used: -1, Window: time.Minute},
		},
		{
			name: "malformed values are skipped field by field",
			h:    rlHeader("X-RateLimit-Limit", "lots", "X-RateLimit-Remaining", "-4", "X-RateLimit-Reset", "soon", "X-RateLimit-Used", "2"),
			want: RateLimit{Limit: -1, Remaining: -1, Used: 2},
		},
		{
			name: "decimal remaining rounds down",
			h:    rlHeader("X-RateLimit-Remaining", "2.7"),
			want: RateLimit{Limit: -1, Remaining: 2, Used: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRateLimit(tt.h, now, tt.opts)
			if !ok {
				t.Fatalf("ParseRateLimit(%v) reported no rate limit", tt.h)
			}
			tt.want.Present = true
			tt.want.Observed = now
			if !rlEqual(got, tt.want) {
				t.Errorf("ParseRateLimit(%v)\n got %+v\nwant %+v", tt.h, got, tt.want)
			}
		})
	}
}

func rlEqual(a, b RateLimit) bool {
	return a.Limit == b.Limit && a.Remaining == b.Remaining && a.Used == b.Used &&
		a.Reset.Equal(b.Reset) && a.Window == b.Window && a.Resource == b.Resource &&
		a.Observed.Equal(b.Observed) && a.Present == b.Present
}

func TestParseRateLimitAbsent(t *testing.T) {
	for _, h := range []http.Header{
		nil,
		{},
		rlHeader("Content-Type", "application/json"),
		rlHeader("X-RateLimit-Limit", "", "X-RateLimit-Remaining", "none"),
		rlHeader("RateLimit", `"default"`),
		rlHeader("RateLimit", "this is not a structured field"),
		rlHeader("RateLimit-Policy", "?1"),
	} {
		rl, ok := ParseRateLimit(h, rlParseNow, ParseOptions{})
		if ok || rl.Present || rl != (RateLimit{}) {
			t.Errorf("ParseRateLimit(%v) = %+v, %v; want the zero RateLimit, false", h, rl, ok)
		}
	}
}

func TestResetFormatDetection(t *testing.T) {
	tests := []struct {
		now  time.Time
		v    float64
		want ResetFormat
	}{
		{rlParseNow, 0, ResetDelta},
		{rlParseNow, 60, ResetDelta},
		{rlParseNow, 86400 * 365, ResetDelta},       // a year ahead is still a delta
		{rlParseNow, 1640995200, ResetEpochSeconds}, // an hour ahead
		{rlParseNow, 1640900000, ResetEpochSeconds}, // a day in the past: skew, still epoch
		{rlParseNow, 1640995200123, ResetEpochMillis},
		{rlParseNow, 1640995200.5, ResetEpochSeconds},
		// Against a clock at 2000-01-01, as in a synctest bubble.
		{time.Unix(946684800, 0), 946684801, ResetEpochSeconds},
		{time.Unix(946684800, 0), 946684801000, ResetEpochMillis},
		{time.Unix(946684800, 0), 3600, ResetDelta},
		// A zero clock falls back to present-era thresholds.
		{time.Time{}, 30, ResetDelta},
		{time.Time{}, 1640995200, ResetEpochSeconds},
		{time.Time{}, 1640995200000, ResetEpochMillis},
	}
	for _, tt := range tests {
		if got := detectResetFormat(tt.v, tt.now); got != tt.want {
			t.Errorf("detectResetFormat(%v, %v) = %v, want %v", tt.v, tt.now.Unix(), got, tt.want)
		}
	}
}

func TestResetFormatString(t *testing.T) {
	for f, want := range map[ResetFormat]string{
		ResetAuto: "Auto", ResetEpochSeconds: "EpochSeconds", ResetEpochMillis: "EpochMillis",
		ResetDelta: "Delta", ResetFormat(9): "ResetFormat(9)",
	} {
		if got := f.String(); got != want {
			t.Errorf("ResetFormat(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}

func TestHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{hdrXLimit, hdrXRemaining, hdrXReset, hdrXUsed, hdrXResource,
		hdrRateLimit, hdrPolicy, hdrLimit, hdrRemaining, hdrReset} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("header key %q is not canonical (%q)", k, c)
		}
	}
}

func TestRateLimitFromResponse(t *testing.T) {
	if _, ok := RateLimitFromResponse(nil); ok {
		t.Error("RateLimitFromResponse(nil) reported a rate limit")
	}
	resp := &http.Response{Header: rlHeader("X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1640995200")}
	rl, ok := RateLimitFromResponse(resp)
	if !ok || rl.Limit != 1000 || rl.Remaining != 0 || !rl.Reset.Equal(time.Unix(1640995200, 0)) || rl.Observed.IsZero() {
		t.Errorf("RateLimitFromResponse = %+v, %v", rl, ok)
	}
}

// The policy cache is bounded whatever values a server sends, and a value
// it dropped is parsed again, correctly.
func TestPolicyCacheBounded(t *testing.T) {
	first := `"default";q=100;w=60`
	want := rlParsePolicies([]string{first})
	if got := rlCachedPolicies([]string{first}); !slices.Equal(got, want) || len(got) != 1 || got[0].quota != 100 || got[0].window != time.Minute {
		t.Fatalf("cached %+v, want %+v", got, want)
	}
	for i := range 10 * rlPolicyCacheMax {
		rlCachedPolicies([]string{fmt.Sprintf(`"p%d";q=%d;w=1`, i, i+1)})
		rlPolicyCache.RLock()
		n := len(rlPolicyCache.m)
		rlPolicyCache.RUnlock()
		if n > rlPolicyCacheMax {
			t.Fatalf("cache holds %d values, more than %d", n, rlPolicyCacheMax)
		}
	}
	if got := rlCachedPolicies([]string{first}); !slices.Equal(got, want) {
		t.Fatalf("after eviction: %+v, want %+v", got, want)
	}
	long := `"x";q=1;w=1, ` + strings.Repeat(`"y";q=2;w=2, `, 30) + `"z";q=3;w=3`
	rlCachedPolicies([]string{long})
	rlPolicyCache.RLock()
	_, cached := rlPolicyCache.m[long]
	rlPolicyCache.RUnlock()
	if cached {
		t.Errorf("a %d-byte value was cached; the limit is %d", len(long), rlPolicyCacheLen)
	}
}

func BenchmarkParseRateLimit(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    http.Header
	}{
		{"x-ratelimit", rlHeader("X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "999", "X-RateLimit-Reset", "1640995200")},
		{"ietf-08", rlHeader("RateLimit", `"default";r=50;t=30`, "RateLimit-Policy", `"default";q=100;w=60`)},
		{"none", rlHeader("Content-Type", "application/json", "Date", "Sat, 01 Jan 2022 00:00:00 GMT")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseRateLimit(bc.h, rlParseNow, ParseOptions{})
			}
		})
	}
}
