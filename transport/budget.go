package transport

import "sync"

// Defaults of [RetryBudget], used for zero fields.
const (
	// DefaultBudgetCapacity is the number of tokens a budget starts with.
	DefaultBudgetCapacity = 500
	// DefaultBudgetRetryCost is what a retry takes from the budget.
	DefaultBudgetRetryCost = 5
	// DefaultBudgetTimeoutCost is what a retry after a timeout takes.
	DefaultBudgetTimeoutCost = 10
	// DefaultBudgetRefund is what a first-attempt success gives back.
	DefaultBudgetRefund = 1
)

// RetryBudget is a token bucket that bounds how many retries a [Retry] layer
// sends, so that an upstream that keeps failing gets little more than one
// attempt per request instead of MaxAttempts. It follows aws-sdk-go-v2's
// retry quota:
//
//   - the bucket starts full, with Capacity tokens;
//   - every retry takes RetryCost tokens, or TimeoutCost when the failed
//     attempt was a timeout; when the bucket holds too few, the layer does
//     not retry and hands back the last response (or error);
//   - a request that succeeds on its first attempt puts SuccessRefund tokens
//     back, and a retry that succeeds puts back what it took; the bucket
//     never holds more than Capacity.
//
// "Succeeds" means an answer that is not retried and whose status is below
// 500 and not 429. With the defaults, a server that fails every request costs
// at most 100 retries in total until successes refill the bucket.
//
// The zero value is a full bucket with the defaults. A RetryBudget is safe for
// concurrent use and may be shared by several [Retry] values; set its fields
// before its first use and do not change or copy it afterwards.
type RetryBudget struct {
	// Capacity is the size of the bucket. Zero means 500.
	Capacity int
	// RetryCost is the number of tokens a retry takes. Zero means 5.
	RetryCost int
	// TimeoutCost is the number of tokens a retry after a timeout takes.
	// Zero means 10.
	TimeoutCost int
	// SuccessRefund is the number of tokens a first-attempt success puts
	// back. Zero means 1.
	SuccessRefund int

	mu      sync.Mutex
	started bool
	tokens  int
}

func (b *RetryBudget) capacity() int {
	return retryOr(b.Capacity, DefaultBudgetCapacity)
}

// startLocked fills the bucket on first use. b.mu must be held.
func (b *RetryBudget) startLocked() {
	if !b.started {
		b.started = true
		b.tokens = b.capacity()
	}
}

// Available returns the number of tokens left in the bucket.
func (b *RetryBudget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.startLocked()
	return b.tokens
}

// acquire takes the cost of one retry from the bucket. It returns the number
// of tokens taken and false, taking nothing, when the bucket holds too few.
func (b *RetryBudget) acquire(timeout bool) (int, bool) {
	cost := retryOr(b.RetryCost, DefaultBudgetRetryCost)
	if timeout {
		cost = retryOr(b.TimeoutCost, DefaultBudgetTimeoutCost)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.startLocked()
	if cost > b.tokens {
		return 0, false
	}
	b.tokens -= cost
	return cost, true
}

// release puts n tokens back, or SuccessRefund tokens when n is zero (a
// success that took no retry).
func (b *RetryBudget) release(n int) {
	if n == 0 {
		n = retryOr(b.SuccessRefund, DefaultBudgetRefund)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.startLocked()
	b.tokens = min(b.tokens+n, b.capacity())
}

// retryOr returns v, or def when v is zero or negative.
func retryOr[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
