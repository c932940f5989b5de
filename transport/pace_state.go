package transport

import (
	"math"
	"net/http"
	"time"
)

const (
	// paceAnswerWait bounds how long requests hold back while the answer
	// that would tell them the budget is pending (the first request to a
	// key, or the first one after a reset).
	paceAnswerWait = time.Second
	// paceEmptyPause is how long a key with nothing left pauses when the
	// server gives no reset in the future (no reset header, a reset already
	// past on our clock, a bare 429): one second, the resolution of most
	// reset headers.
	paceEmptyPause = time.Second
	// paceRollTolerance is how far a reset must move forward to count as a
	// new window: epoch values are stable, values computed from "seconds
	// until reset" jitter by up to a second between answers.
	paceRollTolerance      = 500 * time.Millisecond
	paceRollToleranceDelta = 1500 * time.Millisecond
	// paceMinWindow is the window assumed while the real one is unknown:
	// reset headers and policy windows count in whole seconds, so no
	// window is shorter. It keeps a client that starts just before a reset
	// from spending a whole window's budget in a few milliseconds.
	paceMinWindow = time.Second
	// paceCatchUp is how much lateness of steady pacing is made up by
	// sending at once: more than a timer wake-up runs late, and far less
	// than any window a limiter counts over.
	paceCatchUp = 2 * time.Millisecond
	// paceRefillsContinuous is how many answers in a row must show budget
	// regained within a window before the budget is taken to refill
	// continuously (the sliding model), whatever the reset says.
	paceRefillsContinuous = 2
	// paceMaxRateGain bounds the learned refill rate, as a multiple of
	// Limit per Window.
	paceMaxRateGain = 64
)

// paceTicket records one admitted request.
type paceTicket struct {
	sent time.Time
	seq  uint64 // the request's place in the key's dispatch order, from 1
	// atCap: it went at most 1.5 planned intervals after the one before,
	// so the planned rate, not the caller, set the pace.
	atCap bool
}

// paceEntry is the rate-limit state of one host + identity. All fields but
// turn, host and key are guarded by Pace.mu.
//
// The state follows one of two models of the server. In the fixed-window
// model (the default) the budget is Remaining until Reset and comes back in
// full at Reset. In the sliding model, chosen when a new window opens with
// usage carried over from the previous one, the budget refills continuously
// at Limit per Window.
type paceEntry struct {
	host string
	key  paceKey
	turn chan struct{} // holds a token while a request is being admitted

	changed chan struct{} // closed when an answer arrives; nil if nobody waits

	seen      bool  // an answer came back
	limited   bool  // the last useful answer gave a remaining count
	limit     int64 // requests per window; 0 if unknown
	remaining int64
	reset     time.Time // when the budget comes back; zero if unknown
	resetRaw  time.Time // the reset as the server gave it, to spot new windows
	anchor    time.Time // when the latest new window was first seen: a window edge is at or before it
	winMin    time.Time // earliest reset seen in the current window
	prevMin   time.Time // the same for the window before
	observed  time.Time // when remaining was read
	basis     time.Time // when the request that remaining counts was sent
	window    time.Duration
	policyWin bool      // window came from RateLimit-Policy, not from learning
	sliding   bool      // the server carries usage over between windows
	strikes   int       // 429 answers in a row
	winStart  time.Time // latest time the current window can have opened (an answer showed it open)
	basisSeq  uint64    // seq of the request that remaining counts
	seq       uint64    // requests dispatched so far
	refills   int       // answers in a row that showed budget regained within a window
	refillAt  time.Time // when an answer last showed that
	remodel   bool      // an answer changed the model: the planned gap is stale
	rate      float64   // learned refill rate of a sliding budget, per second; 0: Limit per Window
	peak      int64     // the most ever left after a request: a full budget
	rateLo    float64   // a learned rate at which the budget stayed full; 0 if none
	rateHi    float64   // a learned rate at which it drained; 0 if none
	winGuess  bool      // window was guessed from the refill seen, not given or learned from resets
	firstAt   time.Time // when the request of the first answer was sent
	firstSeq  uint64    // its seq
	firstR    int64     // and what it left
	inflight  int
	lastSent  time.Time
	next      time.Time // earliest time of the next request (pacing)
}

// sharedRate returns the rate to book in a shared budget: util of Limit
// per window once the window is known; before that, what is left spread
// over the time until the reset (the budget the whole fleet shares in this
// window); once that reset has passed, the limit per paceMinWindow, the
// fastest the limit can allow, which spaces the processes' probes of the
// new window. A zero window means there is nothing to go on yet.
func (e *paceEntry) sharedRate(now time.Time, util float64) (float64, time.Duration) {
	switch {
	case e.limit > 0 && e.window > 0:
		return float64(e.limit) * util, e.window
	case e.limited && e.remaining > 0 && e.reset.After(now):
		return float64(e.remaining) * util, e.reset.Sub(now)
	case e.limited && e.limit > 0 && !e.reset.IsZero() && !e.reset.After(now):
		return float64(e.limit) * util, paceMinWindow
	}
	return 0, 0
}

func (e *paceEntry) waitChan() <-chan struct{} {
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// decide says how long the next request must wait at now (zero or less: it
// may go). A non-nil error means the wait is longer than the maximum and the
// request must fail.
func (e *paceEntry) decide(now time.Time, c *paceConfig) (time.Duration, *RateLimitError) {
	at := e.next
	switch {
	case !e.limited:
		if !e.seen {
			at = paceLater(at, e.awaitAnswer(now, c))
		}
	case e.isSliding() && e.strikes > 0:
		// Refused although the model said yes: back off from one refill
		// interval, doubling, up to a window or the reset; one request at
		// a time.
		at = paceLater(at, e.awaitAnswer(now, c))
		backoff := time.Duration(float64(time.Second) / e.refillRate())
		for i := 1; i < e.strikes && backoff < e.window; i++ {
			backoff *= 2
		}
		t := e.observed.Add(min(backoff, e.window))
		if e.reset.After(e.observed) && t.After(e.reset) {
			t = e.reset
		}
		at = paceLater(at, t)
	case e.isSliding():
		if avail := e.slidingAvail(now); avail < 1 {
			refill := (1 - avail) * float64(e.window) / float64(e.limit)
			at = paceLater(at, now.Add(time.Duration(math.Ceil(refill))))
		}
	case !e.reset.IsZero() && !now.Before(e.reset) && e.rollLocally(now):
		// A new window of a known fixed-window server: full budget.
		if e.remaining-int64(e.inflight) <= 0 {
			at = paceLater(at, e.reset)
		}
	case !e.reset.IsZero() && !now.Before(e.reset):
		// The window is over; the new budget is unknown until an answer.
		at = paceLater(at, e.awaitAnswer(now, c))
	case e.remaining-int64(e.inflight) > 0:
		// Budget left: only pacing applies.
	case e.reset.IsZero():
		// What is left is in flight and no reset is known: wait for answers.
		at = paceLater(at, e.awaitAnswer(now, c))
	default:
		at = paceLater(at, e.reset)
	}
	if !at.After(now) {
		return 0, nil
	}
	if probe := e.probeAt(c); e.inflight == 0 && !probe.IsZero() && !now.Before(probe) {
		// Nothing has reached the server for the refusal horizon: this
		// request is the probe, whatever the state says.
		return 0, nil
	}
	d := at.Sub(now)
	if c.maxWait >= 0 && d > c.maxWait {
		return d, &RateLimitError{Reset: at, RetryAfter: d, MaxWait: c.maxWait}
	}
	return d, nil
}

// probeAt is when a request is let through as a probe if the state still
// holds requests back: the refusal horizon after the last request sent.
// Zero when nothing was sent yet.
func (e *paceEntry) probeAt(c *paceConfig) time.Time {
	h := c.probeHorizon()
	if e.lastSent.IsZero() || h == math.MaxInt64 {
		return time.Time{}
	}
	return e.lastSent.Add(h)
}

// clampNext brings the next steady slot forward when an answer shows that
// the gap planned at the last dispatch, longer than PaceProbeInterval, was
// built on a window or limit the answer no longer supports (a nonsense
// RateLimit-Policy window followed by a sane one), or when the answer
// changed the model (the budget turned out to refill continuously, so what
// was left need not be spread until the reset).
func (e *paceEntry) clampNext(now time.Time, c *paceConfig) {
	remodel := e.remodel
	e.remodel = false
	if e.lastSent.IsZero() || (!remodel && e.next.Sub(e.lastSent) <= PaceProbeInterval) {
		return
	}
	if bound := e.lastSent.Add(e.gap(e.lastSent, c)); bound.Before(e.next) {
		e.next = paceLater(bound, now)
	}
}

// rollLocally moves a fixed-window state whose reset has passed on to the
// window that contains now, with the whole quota, and reports whether it
// did. It does so only once the server has shown, at an earlier new window,
// that it is a fixed-window server with a known window and quota, and has
// not refused a request since; otherwise the next answer must tell.
func (e *paceEntry) rollLocally(now time.Time) bool {
	if e.anchor.IsZero() || e.window <= 0 || e.limit <= 0 || e.strikes > 0 {
		return false
	}
	k := now.Sub(e.reset)/e.window + 1
	e.reset = e.reset.Add(k * e.window)
	e.remaining = e.limit
	return true
}

// awaitAnswer returns until when a request should hold back while an answer
// is pending: requests in flight and the last one sent recently. A zero time
// means "go": this request then serves as the probe.
func (e *paceEntry) awaitAnswer(now time.Time, c *paceConfig) time.Time {
	if e.inflight == 0 {
		return time.Time{}
	}
	wait := paceAnswerWait
	if c.maxWait >= 0 && c.maxWait < wait {
		wait = c.maxWait
	}
	if until := e.lastSent.Add(wait); until.After(now) {
		return until
	}
	return time.Time{}
}

// dispatch books a request going out at now and schedules the next one.
func (e *paceEntry) dispatch(now time.Time, c *paceConfig) paceTicket {
	interval := e.gap(now, c)
	atCap := !e.lastSent.IsZero() && interval > 0 && now.Sub(e.lastSent) <= interval*3/2
	e.inflight++
	e.lastSent = now
	// Count the next gap from when this request was due, not from when its
	// timer fired: timers and wake-ups run late, by tens of microseconds
	// to a fraction of a millisecond, which would otherwise slow steady
	// pacing by a few percent, and cap a key whose gap is shorter than a
	// wake-up (a high limit) at one request per wake-up. Lateness up to
	// paceCatchUp (or one gap, if longer) is made up by letting the next
	// requests go at once; after a longer idle spell, count from now.
	from := now
	if late := now.Sub(e.next); late >= 0 && late < max(interval, paceCatchUp) {
		from = e.next
	}
	e.next = from.Add(interval)
	e.seq++
	return paceTicket{sent: now, seq: e.seq, atCap: atCap}
}

// gap is the interval between a request sent at now and the next one: the
// steady interval, or what is left spread evenly until the reset if longer.
func (e *paceEntry) gap(now time.Time, c *paceConfig) time.Duration {
	interval := e.steadyInterval(c)
	if e.limited && !e.isSliding() && e.reset.After(now) {
		// Spread what is left evenly over the time until the reset. Until
		// the window is known, keep back the utilization margin of the
		// quota: a sliding-window server would count a fully spent window
		// against the start of the next one.
		if avail := e.remaining - int64(e.inflight); avail >= 1 {
			spend := float64(avail)
			if e.window == 0 {
				quota := spend
				if e.limit > 0 {
					quota = float64(e.limit)
				}
				spend = max(spend-(1-c.util)*quota, 1)
			}
			interval = max(interval, time.Duration(float64(e.reset.Sub(now))/spend))
		}
	}
	return interval
}

// steadyInterval is the gap between requests that keeps to the utilization
// share of Limit per Window (per paceMinWindow while the window is unknown);
// zero while the limit is unknown.
func (e *paceEntry) steadyInterval(c *paceConfig) time.Duration {
	if e.limit <= 0 {
		return 0
	}
	if e.isSliding() && e.rate > 0 {
		return time.Duration(float64(time.Second) / (c.util * e.refillRate()))
	}
	w := e.window
	if w <= 0 {
		w = paceMinWindow
	}
	return time.Duration(float64(w) / (c.util * float64(e.limit)))
}

// refillRate is the rate, per second, at which a sliding budget comes back:
// Limit per Window, or more if the closed loop learned that it refills
// faster (a GCRA server whose Limit is its burst).
func (e *paceEntry) refillRate() float64 {
	if e.winGuess && e.rate > 0 {
		return e.rate
	}
	return max(e.rate, float64(e.limit)/e.window.Seconds())
}

// learnRate is the closed loop of the sliding model: from a fresh answer
// that shows r left, it raises the learned refill rate while the budget
// stays full although requests go at the planned rate, and lowers it when
// the budget drains: doubling until it first drains, then bisecting between
// the highest rate that kept it full and the lowest that drained it, and
// creeping up by 2% an answer once those meet; a refusal cuts it by 30%. It never goes below Limit per Window (when the
// window is known rather than guessed from the refill); a window from
// RateLimit-Policy is taken at its word, so nothing is learned then.
func (e *paceEntry) learnRate(r int64, status int, atCap bool) {
	if !e.isSliding() || e.policyWin {
		return
	}
	base := float64(e.limit) / e.window.Seconds()
	ceiling := paceMaxRateGain * base
	if e.winGuess {
		// The window is a guess: no floor but the slowest rate Pace
		// believes (Limit per PaceMaxReset).
		base = float64(e.limit) / PaceMaxReset.Seconds()
	}
	rate := max(e.rate, base)
	switch {
	case status == http.StatusTooManyRequests:
		e.rateHi, e.rateLo = rate, min(e.rateLo, rate*0.7)
		rate *= 0.7
	case r >= e.peak && atCap:
		// Still full at the planned rate: it refills at least this fast.
		e.rateLo = rate
		switch {
		case e.rateHi == 0:
			rate *= 2
		case e.rateHi > e.rateLo*1.02:
			rate = (e.rateLo + e.rateHi) / 2
		default:
			rate *= 1.02
			e.rateHi = max(e.rateHi, rate)
		}
	case r < e.remaining && r <= e.peak-2:
		// Draining, by more than the jitter of one count: it refills
		// slower than this.
		e.rateHi = rate
		if e.rateLo >= rate {
			e.rateLo = rate * 0.7
		}
		rate = (max(e.rateLo, rate/2) + rate) / 2
	}
	rate = min(max(rate, base), ceiling)
	if rate > max(e.rate, base) {
		e.remodel = true // the gap planned at the last dispatch is too long
	}
	e.rate = rate
}

func (e *paceEntry) isSliding() bool {
	return e.sliding && e.limit > 0 && e.window > 0
}

// slidingAvail is the budget at now under the sliding model, net of the
// requests in flight.
func (e *paceEntry) slidingAvail(now time.Time) float64 {
	// The refill runs from when the counted request reached the server to
	// when this one will: with symmetric latency, from its sending to now.
	refill := now.Sub(e.basis).Seconds() * e.refillRate()
	r := math.Min(float64(e.limit), float64(e.remaining)+refill)
	return r - float64(e.inflight)
}

// complete records the answer to a request admitted with tk: status is 0
// when there was no response.
func (e *paceEntry) complete(now time.Time, tk paceTicket, status int, rl RateLimit, format ResetFormat) {
	e.inflight--
	if status != 0 {
		e.seen = true
	}
	if status >= 200 && status < 300 {
		e.strikes = 0
	}
	switch {
	case rl.Present && rl.Remaining >= 0:
		e.apply(now, tk, status, rl, format)
	case status == http.StatusTooManyRequests:
		// A refusal without a count: nothing is left until the reset, if
		// one is given, else for a moment.
		e.limited = true
		e.strikes++
		e.remaining = 0
		e.observed, e.basis = now, tk.sent
		e.reset = paceCapReset(rl.Reset, now)
		if !e.reset.After(now) {
			e.reset = now.Add(paceEmptyPause)
		}
	case rl.Present:
		if rl.Limit > 0 {
			e.limit = rl.Limit
		}
		if rl.Window > 0 {
			e.window, e.policyWin = min(rl.Window, PaceMaxReset), true
		}
	}
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// apply takes in a snapshot with a remaining count, from a request sent at
// sent and answered at now.
func (e *paceEntry) apply(now time.Time, tk paceTicket, status int, rl RateLimit, format ResetFormat) {
	sent := tk.sent
	roll := false
	tol := paceRollTolerance
	if format == ResetDelta {
		tol = paceRollToleranceDelta
	}
	if e.limited && !rl.Reset.IsZero() && !e.resetRaw.IsZero() {
		adv := rl.Reset.Sub(e.resetRaw)
		switch {
		case adv > tol:
			// A new window. Its start lies between this request's answer
			// and the previous one.
			roll = true
			e.anchor = now
			if !e.policyWin {
				e.learnWindow(adv, tol, format)
			}
			e.prevMin, e.winMin = e.winMin, rl.Reset
		case adv < -tol && sent.Before(e.observed):
			// An answer from an earlier window, overtaken by a newer one.
			return
		}
	}
	if !roll && !rl.Reset.IsZero() && (e.winMin.IsZero() || rl.Reset.Before(e.winMin)) {
		e.winMin = rl.Reset
	}
	if rl.Window > 0 {
		e.window, e.policyWin = min(rl.Window, PaceMaxReset), true
	}
	if rl.Limit > 0 {
		e.limit = rl.Limit
	}
	r := rl.Remaining
	switch {
	case roll:
		// A fixed-window server opens a window with only our own requests
		// counted (at most this one and those still in flight); anything
		// beyond that was carried over from the previous window.
		if e.limit > 0 {
			carry := e.limit - r - 1 - int64(e.inflight)
			e.sliding = carry > max(2, e.limit/10)
		}
	case e.limited && !e.isSliding() && sent.Before(e.observed) && r > e.remaining:
		// Same window, and this request left before the current snapshot
		// was read: the lower count is the more recent truth.
		r = e.remaining
	}
	if status == http.StatusTooManyRequests {
		r = 0
		e.strikes++
	}
	// Closed loop: what the server did between the last snapshot and this
	// one. The requests dispatched after the one the last snapshot counted,
	// up to this one, reached the server in between; whatever of them the
	// count does not show was regained.
	fresh := e.limited && !sent.Before(e.observed) && tk.seq > e.basisSeq
	regained := int64(0)
	if fresh {
		regained = r - e.remaining + int64(tk.seq-e.basisSeq)
	}
	if !e.limited {
		e.firstAt, e.firstSeq, e.firstR = sent, tk.seq, r
	}
	switch {
	case !e.limited || roll:
		e.winStart = now
	case fresh && r > e.remaining && status != http.StatusTooManyRequests:
		// More is left than before: the budget came back since, so a
		// window (if any) opened at or before now.
		e.winStart = now
	}
	switch {
	case roll || !fresh || status == http.StatusTooManyRequests:
	case regained > 0 && (regained <= int64(tk.seq-e.basisSeq)+1 || 2*r < e.limit):
		// Regained about what was spent (one more: a count rounded down),
		// or a little (a new fixed window
		// gives back about the whole limit), again and again: the budget
		// refills continuously (a token bucket, a sliding log), whatever
		// the reset says.
		e.refills++
		e.refillAt = now
		if r <= 0 {
			// Admitted with nothing left before and nothing after: one
			// came back, and a new fixed window would have given back
			// far more. One such answer is enough.
			e.refills = max(e.refills, paceRefillsContinuous)
		}
		if e.refills >= paceRefillsContinuous && e.limit > 0 {
			e.remodel = e.remodel || !e.sliding
			e.sliding = true
			if e.window <= 0 {
				// No window to go on: start from the rate the budget came
				// back at since the first answer (a lower bound while it
				// stayed full), and let the loop learn the rest.
				est := 0.0
				if span := sent.Sub(e.firstAt).Seconds(); span > 0 {
					est = float64(r-e.firstR+int64(tk.seq-e.firstSeq)) / span
				}
				if est <= 0 {
					est = float64(e.limit) / paceMinWindow.Seconds()
				}
				e.rate, e.winGuess = est, true
				e.window = min(max(time.Duration(float64(e.limit)/est*float64(time.Second)), time.Millisecond), PaceMaxReset)
			}
		}
	case regained <= 0 && sent.Sub(e.basis) < e.steadyGap():
		// Too soon after the last one for a continuous refill to show.
	default:
		e.refills = 0
	}
	if fresh {
		e.learnRate(r, status, tk.atCap)
	}
	e.peak = max(e.peak, r)
	e.limited = true
	e.remaining = r
	e.observed = now
	e.basis = sent
	e.basisSeq = tk.seq
	// The raw reset spots new windows (a reset stuck in the year 9999 does
	// not move); the one waited for is capped.
	e.resetRaw = rl.Reset
	e.reset = paceCapReset(rl.Reset, now)
	coarse := format == ResetEpochSeconds || format == ResetDelta
	if coarse && !e.reset.IsZero() && !e.winStart.IsZero() {
		// A reset in whole seconds lies by up to a second either way
		// (truncated or rounded up; "seconds until" also counts from the
		// server's second). The window that opened at or before winStart
		// ends at or before winStart + window: when that lies within the
		// rounding of the reset given and the rounding evidently went that
		// way, it is the better estimate.
		w := e.window
		if w <= 0 {
			w = paceMinWindow
		}
		k := now.Sub(e.winStart)/w + 1
		edge := e.winStart.Add(k * w)
		// An edge before the reset given is trusted only with a known
		// window, or when the reset says at most one second until (so the
		// window ends within that second anyway): with a guessed window
		// of one second, a longer window would end later than its edge.
		early := e.window > 0 || (format == ResetDelta && !e.reset.After(now.Add(time.Second)))
		switch d := edge.Sub(e.reset); {
		case d < 0 && d > -time.Second && early:
			// Rounded up, or "seconds until" that never counts down.
			e.reset = edge
		case d > 0 && d < time.Second && !e.reset.After(now):
			// Truncated: the reset given has passed, the window has not.
			e.reset = edge
		}
	} else if !e.anchor.IsZero() && e.window > 0 && !e.reset.IsZero() {
		// A reset given in whole seconds until it lies up to a second
		// late; the window edge seen at the last new window, moved on by
		// whole windows, is closer (and never early).
		k := now.Sub(e.anchor)/e.window + 1
		if edge := e.anchor.Add(k * e.window); edge.Before(e.reset) && e.reset.Sub(edge) < tol {
			e.reset = edge
		}
	}
	if r <= 0 && !e.refillAt.IsZero() && now.Sub(e.refillAt) < max(e.window, paceMinWindow) &&
		!e.isSliding() && e.limit > 0 && e.reset.After(now.Add(e.steadyGap())) {
		// Empty, but an answer within the last window showed budget
		// coming back between answers: probe one steady interval on
		// rather than wait out the window. The gap planned at the last
		// dispatch spread what was left until the window's end: replan.
		e.reset = now.Add(e.steadyGap())
		e.remodel = true
	}
	if r <= 0 && !e.reset.After(now) {
		pause := paceEmptyPause
		switch {
		case e.limit <= 0:
		case rl.Reset.IsZero() && e.strikes == 0 && !e.winStart.IsZero():
			// No reset (or none that parses): the window that opened at or
			// before winStart ends by winStart + window, a second while the
			// window is unknown. Probe then rather than a second from now.
			w := e.window
			if w <= 0 {
				w = paceMinWindow
			}
			k := now.Sub(e.winStart)/w + 1
			pause = min(max(e.winStart.Add(k*w).Sub(now), e.steadyGap()), paceEmptyPause)
		case coarse || rl.Reset.IsZero():
			// A reset already past by whole-second rounding: the budget
			// evidently comes back about now. Probe one steady interval on,
			// doubling per refusal, rather than stall a whole second.
			pause = min(e.steadyGap()<<min(e.strikes, 10), paceEmptyPause)
		}
		e.reset = now.Add(pause)
	}
}

// steadyGap is the interval between requests at Limit per Window (per
// paceMinWindow while the window is unknown), with no utilization margin.
func (e *paceEntry) steadyGap() time.Duration {
	w := e.window
	if w <= 0 {
		w = paceMinWindow
	}
	return w / time.Duration(max(e.limit, 1))
}

// learnWindow updates the window length when the reset moved forward by adv
// at the start of a new window. An epoch reset moves by exactly a window (or
// by several, after a quiet spell: the smallest step wins). A reset computed
// from whole seconds until it jitters by up to a second, so the window is
// measured between the earliest resets of the last two windows, which
// jitter alike; until two windows have been seen, it is guessed on the long
// side.
func (e *paceEntry) learnWindow(adv, tol time.Duration, format ResetFormat) {
	adv = min(adv, PaceMaxReset)
	if format != ResetDelta {
		if e.window == 0 || adv < e.window {
			e.window = adv
		}
		return
	}
	if !e.prevMin.IsZero() && !e.winMin.IsZero() {
		// winMin and prevMin belong to the window just closed and the one
		// before; trust their distance only if it matches this step.
		if w := e.winMin.Sub(e.prevMin); w > 0 && (w-adv).Abs() <= tol {
			e.window = min(w, PaceMaxReset)
			return
		}
	}
	if e.window == 0 {
		e.window = adv + tol
	}
}

// paceCapReset returns reset, or PaceMaxReset after now if it is further.
func paceCapReset(reset, now time.Time) time.Time {
	if limit := now.Add(PaceMaxReset); reset.After(limit) {
		return limit
	}
	return reset
}

func paceLater(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
