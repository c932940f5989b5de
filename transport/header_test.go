package transport

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/apiauth/apiauth/internal/testrt"
)

// TestDefaultIdentitySpellings checks that Pace's default identity reads a
// credential header set by hand under a lower-case key: before, such a
// request had the empty identity, so every caller setting
// req.Header["x-api-key"] by hand shared one budget.
func TestDefaultIdentitySpellings(t *testing.T) {
	req := func(h http.Header) *http.Request { return &http.Request{Header: h} }
	for _, name := range []string{"Authorization", "X-Api-Key"} {
		canon := DefaultIdentity(req(http.Header{name: {"secret-1"}}))
		for _, spelling := range []string{"authorization", "x-api-key", "AUTHORIZATION", "x-API-key"} {
			if http.CanonicalHeaderKey(spelling) != name {
				continue
			}
			got := DefaultIdentity(req(http.Header{spelling: {"secret-1"}}))
			if got == "" || got != canon {
				t.Errorf("DefaultIdentity with %q = %q, want %q as with %q", spelling, got, canon, name)
			}
			// A server reads the first value in the order net/http
			// writes the keys, byte-wise: "AUTHORIZATION" <
			// "Authorization" < "authorization".
			both := DefaultIdentity(req(http.Header{spelling: {"secret-2"}, name: {"secret-1"}}))
			want := canon
			if spelling < name {
				want = DefaultIdentity(req(http.Header{name: {"secret-2"}}))
			}
			if both != want {
				t.Errorf("DefaultIdentity with %q and %q = %q, want the first key's %q", spelling, name, both, want)
			}
		}
		if other := DefaultIdentity(req(http.Header{name: {"secret-2"}})); other == canon {
			t.Errorf("DefaultIdentity does not tell two %s values apart", name)
		}
	}
}

// TestHeaderHelpersASCIIOnly checks that the header helpers fold ASCII case
// only: "x-org-ſlug" (U+017F) and "x-api-\u212aey" (U+212A) are other names,
// which strings.EqualFold would equate with X-Org-Slug and X-Api-Key.
func TestHeaderHelpersASCIIOnly(t *testing.T) {
	h := http.Header{
		"x-org-slug": {"a"}, "X-ORG-SLUG": {"b"}, "x-org-ſlug": {"c"},
		"x-api-key": {"d"}, "x-api-\u212aey": {"e"},
	}
	if !headerHas(h, "X-Org-Slug") || headerHas(http.Header{"x-org-ſlug": {"c"}}, "X-Org-Slug") {
		t.Error("headerHas folds other than ASCII case")
	}
	if got := headerGet(h, "X-Api-Key"); got != "d" {
		t.Errorf("headerGet(X-Api-Key) = %q, want d", got)
	}
	headerCanonicalize(h, "X-Org-Slug")
	if got := h["X-Org-Slug"]; !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("headerCanonicalize: X-Org-Slug = %q, want [b a] (keys in byte order)", got)
	}
	headerSet(h, "x-org-slug", "z")
	headerDel(h, "X-Api-Key")
	want := http.Header{"X-Org-Slug": {"z"}, "x-org-ſlug": {"c"}, "x-api-\u212aey": {"e"}}
	if !hsHeaderEqual(h, want) {
		t.Errorf("after headerSet and headerDel: %q, want %q", h, want)
	}
}

// TestRetryIdempotencyKeySpellings checks that a caller's own idempotency
// key, set by hand under a lower-case name, is recognized: the retry layer
// neither adds a second key beside it (the server would read the added one
// first) nor, for a POST carrying it, refuses to retry.
func TestRetryIdempotencyKeySpellings(t *testing.T) {
	for _, name := range []string{"idempotency-key", "IDEMPOTENCY-KEY", "x-idempotency-key"} {
		var sent []http.Header
		r := &Retry{
			Base: testrt.Func(func(req *http.Request) (*http.Response, error) {
				sent = append(sent, req.Header.Clone())
				status := http.StatusServiceUnavailable
				if len(sent) > 1 {
					status = http.StatusOK
				}
				return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
			}),
			RetryOptions: RetryOptions{AddIdempotencyKey: true, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
		}
		req := authNewReq(t, context.Background(), http.MethodPost, "https://api.test/v1/charges", nil)
		req.Header[name] = []string{"mine"}
		resp, err := r.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if len(sent) != 2 {
			t.Fatalf("%s: %d attempts, want 2 (a POST with its own key is retried)", name, len(sent))
		}
		for i, h := range sent {
			_, keys := hsSpellings(h, "Idempotency-Key")
			_, xkeys := hsSpellings(h, "X-Idempotency-Key")
			if got := append(keys, xkeys...); !slices.Equal(got, []string{"mine"}) {
				t.Errorf("%s, attempt %d: idempotency keys sent %q, want only the caller's [mine]", name, i+1, got)
			}
		}
	}
}
