package transport

import (
	"sync"
	"testing"
)

func TestRetryBudgetZeroValue(t *testing.T) {
	var b RetryBudget
	if got := b.Available(); got != 500 {
		t.Fatalf("zero RetryBudget holds %d tokens; want 500", got)
	}
	if n, ok := b.acquire(false); !ok || n != 5 {
		t.Fatalf("acquire(retry) = %d, %v; want 5, true", n, ok)
	}
	if n, ok := b.acquire(true); !ok || n != 10 {
		t.Fatalf("acquire(timeout) = %d, %v; want 10, true", n, ok)
	}
	if got := b.Available(); got != 485 {
		t.Fatalf("after two retries: %d tokens; want 485", got)
	}
	b.release(0) // first-attempt success
	if got := b.Available(); got != 486 {
		t.Fatalf("after a success: %d tokens; want 486", got)
	}
	b.release(10) // successful retry gives back its cost
	if got := b.Available(); got != 496 {
		t.Fatalf("after a successful retry: %d tokens; want 496", got)
	}
	for range 10 {
		b.release(0)
	}
	if got := b.Available(); got != 500 {
		t.Fatalf("refunds overflowed the capacity: %d tokens; want 500", got)
	}
}

func TestRetryBudgetRunsDry(t *testing.T) {
	b := &RetryBudget{Capacity: 12, RetryCost: 5, TimeoutCost: 8, SuccessRefund: 2}
	if _, ok := b.acquire(false); !ok {
		t.Fatal("first retry refused")
	}
	if _, ok := b.acquire(true); ok {
		t.Fatal("a timeout retry costing 8 was allowed with 7 tokens left")
	}
	if _, ok := b.acquire(false); !ok {
		t.Fatal("second retry (5 of 7 tokens) refused")
	}
	if _, ok := b.acquire(false); ok {
		t.Fatal("third retry allowed with 2 tokens left")
	}
	if got := b.Available(); got != 2 {
		t.Fatalf("a refused acquire took tokens: %d left; want 2", got)
	}
	b.release(0)
	if got := b.Available(); got != 4 {
		t.Fatalf("SuccessRefund 2: %d tokens; want 4", got)
	}
}

func TestRetryBudgetConcurrent(t *testing.T) {
	b := &RetryBudget{Capacity: 100}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 50 {
		wg.Go(func() {
			if _, ok := b.acquire(false); ok {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if granted != 20 || b.Available() != 0 {
		t.Fatalf("granted %d retries leaving %d tokens; want 20 and 0", granted, b.Available())
	}
}
