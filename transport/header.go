package transport

import (
	"net/http"
	"slices"

	"github.com/apiauth/apiauth/internal/hostcheck"
)

// Header names are case-insensitive, and an [http.Header] map may hold one
// name under several spellings: http.Header.Set and Get canonicalize the key,
// but a caller may write req.Header["x-api-key"] directly (some APIs document
// their header names in lower case), and net/http sends every key of the map as it is
// spelled. Code that reads, sets or strips a credential or tenant header must
// therefore look at every spelling, never just the canonical key. The helpers
// below do, comparing names under ASCII case folding only (hostcheck.EqualFold):
// header names are ASCII tokens, and Unicode folding would equate names such
// as "x-api-ſig" (U+017F) with "X-Api-Sig" that net/http does not treat as
// the same header (it refuses to send them at all).

// headerHas reports whether h holds name under any spelling. It does not
// allocate.
func headerHas(h http.Header, name string) bool {
	for k := range h {
		if hostcheck.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// headerGet returns the first value of name under any spelling in h, the
// one a server reading the request with http.Header.Get sees: net/http
// writes the keys sorted byte-wise, and the server gathers them under one
// name in that order. It returns "" if there is none, and does not
// allocate.
func headerGet(h http.Header, name string) string {
	var first string
	found := false
	for k, vs := range h {
		if len(vs) == 0 || !hostcheck.EqualFold(k, name) {
			continue
		}
		if !found || k < first {
			first, found = k, true
		}
	}
	if !found {
		return ""
	}
	return h[first][0]
}

// headerDel deletes every spelling of name from h.
func headerDel(h http.Header, name string) {
	for k := range h {
		if hostcheck.EqualFold(k, name) {
			delete(h, k)
		}
	}
}

// headerSet sets h's only value for name to v, under name's canonical
// spelling, after deleting every other spelling: unlike http.Header.Set it
// leaves no hand-set lower-case copy beside the new value.
func headerSet(h http.Header, name, v string) {
	name = http.CanonicalHeaderKey(name)
	headerDel(h, name)
	h[name] = []string{v}
}

// headerCanonicalize gathers the values of every spelling of name (which
// must be canonical) under name itself, in the order net/http would have
// written them (keys sorted byte-wise), so that a later Set replaces all of
// them and a later Get sees the first. It allocates only when h holds a
// spelling other than name. The value slices of h are never written: the
// merged slice is new.
func headerCanonicalize(h http.Header, name string) {
	var other []string
	for k := range h {
		if k != name && hostcheck.EqualFold(k, name) {
			other = append(other, k)
		}
	}
	if other == nil {
		return
	}
	if _, ok := h[name]; ok {
		other = append(other, name)
	}
	slices.Sort(other)
	var vs []string
	for _, k := range other {
		vs = append(vs, h[k]...)
		delete(h, k)
	}
	h[name] = vs[:len(vs):len(vs)]
}
