package transport

import (
	"net/http"
	"strconv"
	"time"
)

// RateLimit is a snapshot of a server's rate-limit state, read from the
// headers of one response by [ParseRateLimit]; apiauth.Response carries the
// one of each answer.
//
// The zero value means "no rate-limit information" (Present is false). Within
// a present snapshot, a count the server did not send is -1 and a time or
// duration it did not send is zero. A RateLimit is a plain value: copy it
// freely.
type RateLimit struct {
	// Limit is the number of requests allowed per window, or -1 if unknown.
	Limit int64
	// Remaining is the number of requests left in the current window, or -1
	// if unknown.
	Remaining int64
	// Used is the number of requests spent in the current window: the
	// X-RateLimit-Used header when sent, else Limit-Remaining when both are
	// known, else -1.
	Used int64
	// Reset is when the window ends and, for a fixed-window limiter, the
	// budget comes back in full; zero if unknown. A reset sent as seconds
	// until it is placed on the local clock; one sent as an epoch time is
	// taken as is, so it is off by any difference between the two clocks.
	Reset time.Time
	// Window is the length of the quota window, from a w parameter (of
	// RateLimit-Policy, or of a quota policy in RateLimit-Limit or
	// X-RateLimit-Limit); zero if the server did not say.
	Window time.Duration
	// Resource names the limit: X-RateLimit-Resource (GitHub's "core",
	// "search", ...) or the IETF policy name; empty if none.
	Resource string
	// Observed is the time the snapshot was read (the now passed to
	// [ParseRateLimit]).
	Observed time.Time
	// Present reports whether the headers carried any rate-limit field.
	Present bool
}

// ResetFormat says how a numeric reset value is read. The zero value,
// [ResetAuto], guesses from the number's magnitude.
type ResetFormat int

const (
	// ResetAuto reads the value by its magnitude against the local clock:
	// above a hundred times the current Unix time it is epoch milliseconds,
	// above half the current Unix time it is epoch seconds (GitHub,
	// go-chi/httprate), and below that it is seconds until the reset
	// (Envoy and the IETF drafts).
	ResetAuto ResetFormat = iota
	// ResetEpochSeconds reads the value as Unix seconds.
	ResetEpochSeconds
	// ResetEpochMillis reads the value as Unix milliseconds.
	ResetEpochMillis
	// ResetDelta reads the value as seconds from now until the reset.
	ResetDelta
)

// String returns the constant's name without the Reset prefix.
func (f ResetFormat) String() string {
	switch f {
	case ResetAuto:
		return "Auto"
	case ResetEpochSeconds:
		return "EpochSeconds"
	case ResetEpochMillis:
		return "EpochMillis"
	case ResetDelta:
		return "Delta"
	}
	return "ResetFormat(" + strconv.Itoa(int(f)) + ")"
}

// ParseOptions tunes [ParseRateLimit]. The zero value suits most servers.
type ParseOptions struct {
	// ResetFormat forces how X-RateLimit-Reset and RateLimit-Reset are read,
	// for an API family known to use one format. The zero value, ResetAuto,
	// detects it per value. The reset and t members of the structured
	// RateLimit field are always seconds until the reset, as the IETF draft
	// defines them (read with ResetAuto, so a server that sends an epoch
	// there anyway is still understood).
	ResetFormat ResetFormat
}

// ParseRateLimit reads the rate-limit headers of a response into a snapshot
// taken at now, and reports whether any were present. It understands
//
//   - X-RateLimit-Limit, -Remaining, -Reset, -Used and -Resource (GitHub,
//     go-chi/httprate, Envoy and many others);
//   - the IETF draft's separate RateLimit-Limit, -Remaining and -Reset fields
//     (drafts -00 to -06);
//   - the -07 dictionary "RateLimit: limit=100, remaining=50, reset=5";
//   - the -08 and later lists "RateLimit: "default";r=50;t=30" with
//     "RateLimit-Policy: "default";q=100;w=60".
//
// When a response carries several of these, the structured RateLimit field
// wins over RateLimit-*, which wins over X-RateLimit-*, field by field.
// When a -08 RateLimit field lists several policies, the snapshot describes
// the one with the fewest requests left (on a tie, the later reset), the
// policy that will stop requests first.
//
// Malformed values are ignored field by field; ParseRateLimit never fails
// and never panics. It is safe for concurrent use.
func ParseRateLimit(h http.Header, now time.Time, opts ParseOptions) (RateLimit, bool) {
	rl, _ := parseRateLimit(h, now, opts)
	return rl, rl.Present
}

// RateLimitFromResponse parses the rate-limit headers of resp, as
// [ParseRateLimit] does with the zero [ParseOptions] at the current time. It
// reads only resp.Header, so it is cheap and leaves the body alone. It
// returns false for a nil response or one without rate-limit headers.
func RateLimitFromResponse(resp *http.Response) (RateLimit, bool) {
	if resp == nil {
		return RateLimit{}, false
	}
	return ParseRateLimit(resp.Header, time.Now(), ParseOptions{})
}
