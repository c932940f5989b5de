package sentsecret

import (
	"context"
	"testing"
)

func TestScrubber(t *testing.T) {
	s := NewScrubber("pa<ss>&w\"rd-1", "abc", "tok+en/1234")
	for _, tc := range []struct{ in, want string }{
		{`{"detail":"bad pa\u003css\u003e\u0026w\"rd-1"}`, `{"detail":"bad [REDACTED]"}`},
		{`{"detail":"bad pa<ss>&w\"rd-1"}`, `{"detail":"bad [REDACTED]"}`},
		{"bad pa<ss>&w\"rd-1!", "bad [REDACTED]!"},
		{"?t=tok%2Ben%2F1234", "?t=[REDACTED]"},
		{"abc is too short to scrub", "abc is too short to scrub"},
	} {
		if got := s.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(s.Bytes([]byte(tc.in))); got != tc.want {
			t.Errorf("Bytes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var none *Scrubber
	if none.String("x") != "x" || !none.Empty() {
		t.Error("a nil scrubber changes its input")
	}
}

func TestRecorder(t *testing.T) {
	ctx, r := With(context.Background())
	if ctx2, r2 := With(ctx); r2 != r || ctx2 != ctx {
		t.Error("With does not reuse the recorder on the context")
	}
	Add(ctx, "secret-one", "ab")
	Add(context.Background(), "lost")
	if got := r.Secrets(); len(got) != 1 || got[0] != "secret-one" {
		t.Errorf("Secrets() = %q", got)
	}
	if got := HeaderSecrets("Bearer tok"); len(got) != 2 || got[1] != "tok" {
		t.Errorf("HeaderSecrets = %q", got)
	}
}
