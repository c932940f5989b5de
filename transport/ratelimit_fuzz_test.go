package transport

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// rlCheckSnapshot asserts the invariants every parsed snapshot keeps, whatever
// the input.
func rlCheckSnapshot(t *testing.T, h http.Header, rl RateLimit, ok bool, now time.Time) {
	t.Helper()
	if ok != rl.Present {
		t.Fatalf("ok = %v but Present = %v for %v", ok, rl.Present, h)
	}
	if !ok {
		if rl != (RateLimit{}) {
			t.Fatalf("absent snapshot is not zero: %+v for %v", rl, h)
		}
		return
	}
	if rl.Limit < -1 || rl.Remaining < -1 || rl.Used < -1 {
		t.Fatalf("negative count other than -1: %+v for %v", rl, h)
	}
	if rl.Window < 0 {
		t.Fatalf("negative window: %+v for %v", rl, h)
	}
	if !rl.Observed.Equal(now) {
		t.Fatalf("Observed = %v, want %v", rl.Observed, now)
	}
	if !rl.Reset.IsZero() && (rl.Reset.Year() < 1970 || rl.Reset.Year() > 10000) {
		t.Fatalf("reset out of range: %v for %v", rl.Reset, h)
	}
	if len(rl.Resource) > 64 {
		t.Fatalf("resource name too long: %d bytes", len(rl.Resource))
	}
}

func FuzzParseXRateLimit(f *testing.F) {
	f.Add("1000", "999", "1640995200", "", "")
	f.Add("1000", "0", "1640995200", "", "")
	f.Add("5000", "4987", "1640993000", "13", "core")
	f.Add("60", "59", "1640995200123", "", "")
	f.Add("10, 10;w=60", "9", "45", "", "")
	f.Add("", "3", "Sat, 01 Jan 2022 00:00:00 GMT", "", "")
	f.Add("lots", "-4", "1e309", "2.5", "search")
	now := rlParseNow
	f.Fuzz(func(t *testing.T, limit, remaining, reset, used, resource string) {
		h := http.Header{}
		for k, v := range map[string]string{hdrXLimit: limit, hdrXRemaining: remaining, hdrXReset: reset, hdrXUsed: used, hdrXResource: resource} {
			if v != "" {
				h.Set(k, v)
			}
		}
		for _, f := range []ResetFormat{ResetAuto, ResetEpochSeconds, ResetEpochMillis, ResetDelta} {
			rl, ok := ParseRateLimit(h, now, ParseOptions{ResetFormat: f})
			rlCheckSnapshot(t, h, rl, ok, now)
		}
	})
}

func FuzzParseRateLimitFields(f *testing.F) {
	f.Add("100", "50", "5", "")
	f.Add("10, 10;w=1, 50;w=60", "9", "1", "")
	f.Add("100;window=60", "1", "30", "")
	f.Add("100", "1", "30", "100;w=60")
	f.Add("-1", "?0", "@1640995200", `"x";q=-5;w=0.5`)
	now := rlParseNow
	f.Fuzz(func(t *testing.T, limit, remaining, reset, policy string) {
		h := http.Header{}
		for k, v := range map[string]string{hdrLimit: limit, hdrRemaining: remaining, hdrReset: reset, hdrPolicy: policy} {
			if v != "" {
				h.Set(k, v)
			}
		}
		rl, ok := ParseRateLimit(h, now, ParseOptions{})
		rlCheckSnapshot(t, h, rl, ok, now)
	})
}

func FuzzParseRateLimitStructured(f *testing.F) {
	f.Add("limit=100, remaining=50, reset=5", "100;w=10")
	f.Add(`"default";r=50;t=30`, `"default";q=100;w=60`)
	f.Add(`default;r=5;t=2`, `default;q=10;w=1`)
	f.Add(`"burst";r=50;t=30, "daily";r=0;t=3600`, `"burst";q=100;w=60, "daily";q=1000;w=86400`)
	f.Add(`("a" "b");r=1, x;r=9999999999999999;t=1e3`, `(1 2);w=3`)
	now := rlParseNow
	f.Fuzz(func(t *testing.T, ratelimit, policy string) {
		h := http.Header{}
		if ratelimit != "" {
			h.Set(hdrRateLimit, ratelimit)
		}
		if policy != "" {
			h.Set(hdrPolicy, policy)
		}
		rl, ok := ParseRateLimit(h, now, ParseOptions{})
		rlCheckSnapshot(t, h, rl, ok, now)
	})
}

func FuzzParseRateLimitPolicy(f *testing.F) {
	f.Add("100;w=10")
	f.Add(`"burst";q=100;w=60, "daily";q=1000;w=86400`)
	f.Add(`default;q=10;w=1;qu="requests";pk=:cHsdsRa894==:`)
	f.Add(`1000;w=9999999999999`)
	f.Fuzz(func(t *testing.T, policy string) {
		fresh := rlParsePolicies([]string{policy})
		for _, p := range fresh {
			if p.quota < -1 || p.window < 0 {
				t.Fatalf("policy %q parsed to %+v", policy, p)
			}
		}
		// The cache answers exactly what a fresh parse does, the first
		// time and every time after.
		for range 2 {
			if got := rlCachedPolicies([]string{policy}); !slices.Equal(got, fresh) {
				t.Fatalf("cached policies of %q = %+v, fresh parse %+v", policy, got, fresh)
			}
		}
	})
}

func FuzzResetFromNumber(f *testing.F) {
	f.Add(1640995200.0, int64(1640991600))
	f.Add(1640995200123.0, int64(1640991600))
	f.Add(42.0, int64(1640991600))
	f.Add(1e300, int64(0))
	f.Add(-1.0, int64(0))
	f.Fuzz(func(t *testing.T, v float64, nowUnix int64) {
		if nowUnix < 0 || nowUnix > 1<<34 {
			t.Skip("clock outside 1970..2514")
		}
		now := time.Unix(nowUnix, 0)
		for _, f := range []ResetFormat{ResetAuto, ResetEpochSeconds, ResetEpochMillis, ResetDelta} {
			r, used := resetFromNumber(v, now, f)
			if r.IsZero() != (used == ResetAuto) {
				t.Fatalf("resetFromNumber(%v, %v, %v) = %v, %v", v, nowUnix, f, r, used)
			}
			if f == ResetDelta && !r.IsZero() && r.Before(now) {
				t.Fatalf("a delta reset lies before now: %v < %v", r, now)
			}
		}
	})
}
