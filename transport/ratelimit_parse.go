package transport

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dunglas/httpsfv"
)

// Canonical header keys, so lookups index the map without canonicalizing.
const (
	hdrXLimit     = "X-Ratelimit-Limit"
	hdrXRemaining = "X-Ratelimit-Remaining"
	hdrXReset     = "X-Ratelimit-Reset"
	hdrXUsed      = "X-Ratelimit-Used"
	hdrXResource  = "X-Ratelimit-Resource"
	hdrRateLimit  = "Ratelimit"
	hdrPolicy     = "Ratelimit-Policy"
	hdrLimit      = "Ratelimit-Limit"
	hdrRemaining  = "Ratelimit-Remaining"
	hdrReset      = "Ratelimit-Reset"
)

// Bounds that keep every conversion to time.Time and time.Duration exact.
const (
	rlMaxEpochSeconds = 253402300799      // 9999-12-31T23:59:59Z
	rlMaxDeltaSeconds = 100 * 365 * 86400 // a century, well inside time.Duration
	rlMaxCount        = 1 << 53
)

// parseRateLimit does the work of ParseRateLimit. It also returns the format
// in which the snapshot's reset was read (ResetAuto if there was none; an
// HTTP date counts as epoch seconds), which tells the pacer how much the
// reset can jitter from one answer to the next.
func parseRateLimit(h http.Header, now time.Time, opts ParseOptions) (RateLimit, ResetFormat) {
	var format ResetFormat
	if len(h) == 0 {
		return RateLimit{}, format
	}
	rl := RateLimit{Limit: -1, Remaining: -1, Used: -1}
	var pols []rlPolicy
	if v := h[hdrPolicy]; len(v) > 0 {
		pols = rlCachedPolicies(v)
	}

	// 1. The structured RateLimit field (IETF draft -07 and later).
	if v := h[hdrRateLimit]; len(v) > 0 {
		rlParseStructured(&rl, &format, v, pols, now)
	}

	// 2. The separate RateLimit-* fields (IETF drafts -00 to -06).
	if v := h[hdrLimit]; len(v) > 0 && rl.Limit < 0 {
		if l, w, ok := rlParseLimitList(v); ok {
			rl.Limit = l
			if rl.Window == 0 {
				rl.Window = w
			}
		}
	}
	if v := h[hdrRemaining]; len(v) > 0 && rl.Remaining < 0 {
		rl.Remaining = headerCount(v)
	}
	if v := h[hdrReset]; len(v) > 0 && rl.Reset.IsZero() {
		rl.Reset, format = headerReset(v, now, opts.ResetFormat)
	}

	// 3. X-RateLimit-* (GitHub, go-chi/httprate, Envoy, ...).
	if v := h[hdrXLimit]; len(v) > 0 && rl.Limit < 0 {
		// Envoy and some gateways send the draft's "10, 10;w=60" here.
		if l, w, ok := rlParseLimitList(v); ok {
			rl.Limit = l
			if rl.Window == 0 {
				rl.Window = w
			}
		}
	}
	if v := h[hdrXRemaining]; len(v) > 0 && rl.Remaining < 0 {
		rl.Remaining = headerCount(v)
	}
	if v := h[hdrXReset]; len(v) > 0 && rl.Reset.IsZero() {
		rl.Reset, format = headerReset(v, now, opts.ResetFormat)
	}
	if v := h[hdrXUsed]; len(v) > 0 {
		rl.Used = headerCount(v)
	}
	if v := h[hdrXResource]; len(v) > 0 {
		if s := strings.TrimSpace(v[0]); s != "" && len(s) <= 64 {
			rl.Resource = s
		}
	}

	// A policy without a matching RateLimit item still tells the window, and
	// the quota when nothing else did.
	if len(pols) > 0 && (rl.Window == 0 || rl.Limit < 0) {
		if p, ok := rlPolicyFor(pols, rl.Limit); ok {
			if rl.Window == 0 {
				rl.Window = p.window
			}
			if rl.Limit < 0 {
				rl.Limit = p.quota
			}
		}
	}

	if rl.Used < 0 && rl.Limit >= 0 && rl.Remaining >= 0 && rl.Limit >= rl.Remaining {
		rl.Used = rl.Limit - rl.Remaining
	}
	rl.Present = rl.Limit >= 0 || rl.Remaining >= 0 || rl.Used >= 0 ||
		!rl.Reset.IsZero() || rl.Window > 0
	if !rl.Present {
		return RateLimit{}, ResetAuto
	}
	rl.Observed = now
	return rl, format
}

// rlPolicy is one member of a RateLimit-Policy field.
type rlPolicy struct {
	name   string
	quota  int64 // -1 if absent
	window time.Duration
}

// rlPolicyCache remembers the parse of the RateLimit-Policy values seen
// last: a server sends the same policy on every answer, and parsing it as a
// structured field costs about as much as the rest of the stack (10
// allocations, 0.7 µs). It holds at most rlPolicyCacheMax values of at most
// rlPolicyCacheLen bytes, so hostile or ever-changing values cannot grow
// it; when full it starts over. Cached slices are shared and never
// modified.
var rlPolicyCache struct {
	sync.RWMutex
	m map[string][]rlPolicy
}

const (
	rlPolicyCacheMax = 64
	rlPolicyCacheLen = 256
)

// rlCachedPolicies is rlParsePolicies through rlPolicyCache.
func rlCachedPolicies(v []string) []rlPolicy {
	if len(v) != 1 || len(v[0]) > rlPolicyCacheLen {
		return rlParsePolicies(v)
	}
	rlPolicyCache.RLock()
	pols, ok := rlPolicyCache.m[v[0]]
	rlPolicyCache.RUnlock()
	if ok {
		return pols
	}
	pols = rlParsePolicies(v)
	rlPolicyCache.Lock()
	if len(rlPolicyCache.m) >= rlPolicyCacheMax || rlPolicyCache.m == nil {
		rlPolicyCache.m = make(map[string][]rlPolicy, rlPolicyCacheMax)
	}
	rlPolicyCache.m[strings.Clone(v[0])] = pols
	rlPolicyCache.Unlock()
	return pols
}

// rlParsePolicies reads RateLimit-Policy in both its shapes: "100;w=60"
// (drafts up to -07, the item is the quota) and "\"burst\";q=100;w=60"
// (-08 and later, the item is the policy name).
func rlParsePolicies(v []string) []rlPolicy {
	l, err := httpsfv.UnmarshalList(v)
	if err != nil {
		return nil
	}
	var pols []rlPolicy
	for _, m := range l {
		it, ok := m.(httpsfv.Item)
		if !ok {
			continue
		}
		p := rlPolicy{quota: -1}
		switch x := it.Value.(type) {
		case string:
			p.name = x
		case httpsfv.Token:
			p.name = string(x)
		case int64, float64:
			p.quota = sfCount(x)
		}
		if q, ok := sfParamCount(it.Params, "q"); ok {
			p.quota = q
		}
		p.window = sfParamWindow(it.Params)
		pols = append(pols, p)
		if len(pols) == 16 {
			break
		}
	}
	return pols
}

// rlPolicyFor picks the policy describing limit: the one whose quota
// equals it, else the only one.
func rlPolicyFor(pols []rlPolicy, limit int64) (rlPolicy, bool) {
	if limit >= 0 {
		for _, p := range pols {
			if p.quota == limit {
				return p, true
			}
		}
	}
	if len(pols) == 1 {
		return pols[0], true
	}
	return rlPolicy{}, false
}

// rlParseStructured reads the structured RateLimit field into rl: first as the
// -08 list of policy items with r and t parameters, then as the -07
// dictionary with limit, remaining and reset members.
func rlParseStructured(rl *RateLimit, format *ResetFormat, v []string, pols []rlPolicy, now time.Time) {
	if l, err := httpsfv.UnmarshalList(v); err == nil {
		found := false
		var best struct {
			name      string
			remaining int64
			reset     time.Time
			format    ResetFormat
		}
		for _, m := range l {
			it, ok := m.(httpsfv.Item)
			if !ok || it.Params == nil {
				continue
			}
			r, hasR := sfParamCount(it.Params, "r")
			t, hasT := sfParamNumber(it.Params, "t")
			if !hasR && !hasT {
				continue
			}
			if !hasR {
				r = -1
			}
			var reset time.Time
			var f ResetFormat
			if hasT {
				reset, f = resetFromNumber(t, now, ResetAuto)
			}
			if !found || rlBetterItem(r, reset, best.remaining, best.reset) {
				found = true
				best.remaining, best.reset, best.format = r, reset, f
				best.name = sfItemName(it)
			}
		}
		if found {
			rl.Remaining = best.remaining
			rl.Reset = best.reset
			*format = best.format
			rl.Resource = best.name
			for _, p := range pols {
				if p.name == best.name {
					rl.Limit, rl.Window = p.quota, p.window
					return
				}
			}
			if len(pols) == 1 && pols[0].name == "" {
				rl.Limit, rl.Window = pols[0].quota, pols[0].window
			}
			return
		}
	}
	d, err := httpsfv.UnmarshalDictionary(v)
	if err != nil {
		return
	}
	if m, ok := d.Get("limit"); ok {
		if it, ok := m.(httpsfv.Item); ok {
			rl.Limit = sfCount(it.Value)
		}
	}
	if m, ok := d.Get("remaining"); ok {
		if it, ok := m.(httpsfv.Item); ok {
			rl.Remaining = sfCount(it.Value)
		}
	}
	if m, ok := d.Get("reset"); ok {
		if it, ok := m.(httpsfv.Item); ok {
			if n, ok := sfNumber(it.Value); ok {
				rl.Reset, *format = resetFromNumber(n, now, ResetAuto)
			}
		}
	}
}

// rlBetterItem reports whether a policy item with remaining r and reset t
// binds harder than the current best: fewer requests left (an unknown count
// loses to any known one), or as few and a later reset.
func rlBetterItem(r int64, t time.Time, bestR int64, bestT time.Time) bool {
	switch {
	case r >= 0 && bestR < 0:
		return true
	case r < 0:
		return false
	case r != bestR:
		return r < bestR
	}
	return t.After(bestT)
}

func sfItemName(it httpsfv.Item) string {
	switch x := it.Value.(type) {
	case string:
		if len(x) <= 64 {
			return x
		}
	case httpsfv.Token:
		if len(x) <= 64 {
			return string(x)
		}
	}
	return ""
}

// rlParseLimitList reads RateLimit-Limit: a quota, optionally followed by
// quota policies ("10, 10;w=1, 50;w=60"). The window is the w (or, in the
// oldest drafts, window) parameter of the first item, else of the first
// policy item with the same quota.
func rlParseLimitList(v []string) (limit int64, window time.Duration, ok bool) {
	if n, ok := plainCount(v); ok {
		return n, 0, true
	}
	l, err := httpsfv.UnmarshalList(v)
	if err != nil || len(l) == 0 {
		if n := headerCount(v); n >= 0 {
			return n, 0, true
		}
		return -1, 0, false
	}
	first, isItem := l[0].(httpsfv.Item)
	if !isItem {
		return -1, 0, false
	}
	limit = sfCount(first.Value)
	if limit < 0 {
		return -1, 0, false
	}
	window = sfParamWindow(first.Params)
	for _, m := range l[1:] {
		if window > 0 {
			break
		}
		if it, ok := m.(httpsfv.Item); ok && sfCount(it.Value) == limit {
			window = sfParamWindow(it.Params)
		}
	}
	return limit, window, true
}

// headerCount reads a non-negative count from the first member of a header,
// or returns -1.
func headerCount(v []string) int64 {
	if n, ok := plainCount(v); ok {
		return n
	}
	if n, ok := headerNumber(v); ok && n < rlMaxCount {
		return int64(n)
	}
	return -1
}

// headerReset reads a reset value: a number in the given format, an HTTP
// date, or an RFC 3339 timestamp. It returns the zero time if none parses.
func headerReset(v []string, now time.Time, f ResetFormat) (time.Time, ResetFormat) {
	if n, ok := plainCount(v); ok {
		return resetFromNumber(float64(n), now, f)
	}
	if n, ok := headerNumber(v); ok {
		return resetFromNumber(n, now, f)
	}
	s := strings.TrimSpace(v[0])
	if len(s) > 64 {
		return time.Time{}, ResetAuto
	}
	if t, ok := parseHTTPDate(s); ok && plausibleDate(t) {
		return t, ResetEpochSeconds
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil && plausibleDate(t) {
		return t, ResetEpochSeconds
	}
	return time.Time{}, ResetAuto
}

// plausibleDate reports whether a reset date a server sent lies between the
// Unix epoch and the year 9999. Date parsers accept the year 0000; a reset
// before 1970 is not a reset any limiter meant, so it is read as absent, like
// any other value that does not parse.
func plausibleDate(t time.Time) bool {
	y := t.Year()
	return y >= 1970 && y <= 9999
}

// plainCount is the fast path for the usual header value: one line of
// decimal digits.
func plainCount(v []string) (int64, bool) {
	if len(v) != 1 {
		return 0, false
	}
	s := v[0]
	if s == "" || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// headerNumber reads the first member of a header as a structured-field
// integer or decimal, falling back to a plain decimal number for values the
// structured grammar rejects (too many digits, exponents). Negative, NaN and
// infinite values are refused.
func headerNumber(v []string) (float64, bool) {
	if l, err := httpsfv.UnmarshalList(v); err == nil {
		if len(l) == 0 {
			return 0, false
		}
		if it, ok := l[0].(httpsfv.Item); ok {
			return sfNumber(it.Value)
		}
		return 0, false
	}
	s := strings.TrimSpace(v[0])
	if i := strings.IndexAny(s, ",;"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "" || len(s) > 32 {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// sfNumber converts a structured-field bare item to a non-negative number.
func sfNumber(x any) (float64, bool) {
	switch n := x.(type) {
	case int64:
		if n >= 0 {
			return float64(n), true
		}
	case float64:
		if n >= 0 && !math.IsNaN(n) && !math.IsInf(n, 0) {
			return n, true
		}
	}
	return 0, false
}

// sfCount converts a bare item to a count, rounding decimals down; -1 if it
// is not a non-negative number.
func sfCount(x any) int64 {
	n, ok := sfNumber(x)
	if !ok || n >= rlMaxCount {
		return -1
	}
	return int64(n)
}

func sfParamNumber(p *httpsfv.Params, name string) (float64, bool) {
	if p == nil {
		return 0, false
	}
	x, ok := p.Get(name)
	if !ok {
		return 0, false
	}
	return sfNumber(x)
}

func sfParamCount(p *httpsfv.Params, name string) (int64, bool) {
	n, ok := sfParamNumber(p, name)
	if !ok || n >= rlMaxCount {
		return 0, false
	}
	return int64(n), true
}

// sfParamWindow reads a policy's window in seconds from its w parameter (or
// window, in the oldest drafts).
func sfParamWindow(p *httpsfv.Params) time.Duration {
	n, ok := sfParamNumber(p, "w")
	if !ok {
		n, ok = sfParamNumber(p, "window")
	}
	if !ok || n <= 0 || n > rlMaxDeltaSeconds {
		return 0
	}
	return time.Duration(n * float64(time.Second))
}

// resetFromNumber turns a numeric reset value into a time on the local
// clock, and returns the format it applied (ResetAuto when it failed).
func resetFromNumber(v float64, now time.Time, f ResetFormat) (time.Time, ResetFormat) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return time.Time{}, ResetAuto
	}
	if f == ResetAuto {
		f = detectResetFormat(v, now)
	}
	switch f {
	case ResetEpochSeconds:
		if v <= rlMaxEpochSeconds {
			sec, frac := math.Modf(v)
			return time.Unix(int64(sec), int64(frac*1e9)), f
		}
	case ResetEpochMillis:
		if v <= rlMaxEpochSeconds*1000 {
			return time.UnixMilli(int64(v)), f
		}
	case ResetDelta:
		if v <= rlMaxDeltaSeconds {
			return now.Add(time.Duration(v * float64(time.Second))), f
		}
	}
	return time.Time{}, ResetAuto
}

// detectResetFormat guesses a reset value's format from its magnitude
// against the local clock. Seconds until a reset are far below the current
// Unix time; epoch seconds are close to it; epoch milliseconds are a
// thousand times larger.
func detectResetFormat(v float64, now time.Time) ResetFormat {
	ref := float64(now.Unix())
	if ref < 1e8 {
		// A clock stuck before 1973 (or the zero time): fall back to
		// thresholds around the present era.
		ref = 1e9
	}
	switch {
	case v >= ref*100:
		return ResetEpochMillis
	case v >= ref/2:
		return ResetEpochSeconds
	}
	return ResetDelta
}
