package errkind

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

type regErr struct{}

func (regErr) Error() string { return "apiauth: registered" }

func TestErrorfPrefixesOnce(t *testing.T) {
	Register(func(err error) bool { _, ok := err.(regErr); return ok })
	inner := Errorf("apiauth: token refresh failed: %w", Errorf("apiauth: POST /login: %w", regErr{}))
	outer := Errorf("apiauth: attach credential: %w", inner)
	if got, want := outer.Error(), "apiauth: attach credential: token refresh failed: POST /login: registered"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	var r regErr
	if !errors.As(outer, &r) || !errors.Is(outer, inner) {
		t.Fatal("the chain lost an error")
	}
	// A foreign error keeps its message, and a foreign message that happens
	// to start with "apiauth: " is not taken for ours.
	foreign := errors.New("apiauth: not ours")
	if Own(foreign) || Own(fmt.Errorf("x: %w", Closed)) {
		t.Fatal("Own decided by message or chain")
	}
	if got := Errorf("apiauth: wait: %w", foreign).Error(); got != "apiauth: wait: apiauth: not ours" {
		t.Fatalf("foreign operand changed: %q", got)
	}
	if got := Errorf("apiauth: token cache: %w", Closed).Error(); got != "apiauth: token cache: closed" {
		t.Fatalf("kind operand: %q", got)
	}
	if !errors.Is(Errorf("apiauth: a: %w, b: %w", context.Canceled, Closed), Closed) {
		t.Fatal("two %w operands: lost one")
	}
}
