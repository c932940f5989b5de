// Package sentsecret carries the exact secrets a request sent (credential
// header values, token request bodies) from the layer that set them to the
// code that builds errors from the answer, so that an answer which echoes a
// secret back never shows it in an error or a log line.
package sentsecret

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// MinLen is the shortest secret that is scrubbed. Shorter values (one to
// three bytes) are not: replacing every "a" or "id" of a message would
// shred it, and the pattern of replacements would spell the secret out
// anyway. No credential apiauth accepts is that short.
const MinLen = 4

// Mask replaces every occurrence of a sent secret.
const Mask = "[REDACTED]"

// Recorder collects the secrets sent on behalf of one call. It is safe for
// concurrent use (retries and re-authentication add to it).
type Recorder struct {
	mu   sync.Mutex
	list []string
}

type recorderKey struct{}

// With returns ctx carrying a recorder: the one ctx already carries, if any,
// else a new one.
func With(ctx context.Context) (context.Context, *Recorder) {
	if r := From(ctx); r != nil {
		return ctx, r
	}
	r := &Recorder{}
	return context.WithValue(ctx, recorderKey{}, r), r
}

// From returns the recorder ctx carries, or nil.
func From(ctx context.Context) *Recorder {
	if ctx == nil {
		return nil
	}
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

// Add records secrets on the recorder of ctx, if it carries one.
func Add(ctx context.Context, secrets ...string) {
	if r := From(ctx); r != nil {
		r.Add(secrets...)
	}
}

// Add records secrets; values shorter than MinLen are ignored.
func (r *Recorder) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= MinLen {
			r.list = append(r.list, s)
		}
	}
}

// Secrets returns a copy of the recorded secrets.
func (r *Recorder) Secrets() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.list...)
}

// HeaderSecrets returns the secrets a credential header value carries: the
// whole value and, for "Scheme param", the param alone.
func HeaderSecrets(v string) []string {
	v = strings.TrimSpace(v)
	out := []string{v}
	if i := strings.IndexByte(v, ' '); i > 0 {
		out = append(out, strings.TrimSpace(v[i+1:]))
	}
	return out
}

// Scrubber replaces sent secrets, in the forms a server may echo them (as
// sent, JSON-escaped, URL-escaped), by Mask.
type Scrubber struct {
	forms []string // longest first
}

// NewScrubber returns a scrubber for secrets; values shorter than MinLen are
// skipped. A scrubber with nothing to scrub returns its input unchanged.
func NewScrubber(secrets ...string) *Scrubber {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) {
		if len(f) >= MinLen && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for _, s := range secrets {
		if len(s) < MinLen {
			continue
		}
		add(s)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, html := range []bool{true, false} {
			b.Reset()
			enc.SetEscapeHTML(html)
			if enc.Encode(s) == nil {
				q := strings.TrimSuffix(b.String(), "\n")
				add(q[1 : len(q)-1])
			}
		}
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return &Scrubber{forms: forms}
}

// Empty reports whether the scrubber has nothing to scrub.
func (s *Scrubber) Empty() bool { return s == nil || len(s.forms) == 0 }

// String returns v with every sent secret replaced by Mask.
func (s *Scrubber) String(v string) string {
	if s.Empty() || v == "" {
		return v
	}
	for _, f := range s.forms {
		if strings.Contains(v, f) {
			v = strings.ReplaceAll(v, f, Mask)
		}
	}
	return v
}

// Bytes returns b with every sent secret replaced by Mask. It returns b
// itself when b holds none, else a new slice.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s.Empty() || len(b) == 0 {
		return b
	}
	for _, f := range s.forms {
		if bytes.Contains(b, []byte(f)) {
			b = bytes.ReplaceAll(b, []byte(f), []byte(Mask))
		}
	}
	return b
}
