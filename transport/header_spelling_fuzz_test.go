package transport

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	tenantctx "github.com/apiauth/apiauth/internal/tenant"
	"github.com/apiauth/apiauth/internal/testrt"
)

// hsNames are the header names FuzzHeaderSpellings spells: the credential
// and tenant headers of the two configurations of hsConfigs, then two
// headers that no layer touches.
var hsNames = []string{"Authorization", "X-Api-Key", "X-Org-Slug", "X-Tenant-Id", "X-Extra-Secret", "Accept", "X-Request-Id"}

// hsEntry is one key of a fuzzed header map: name is a spelling of one of
// hsNames (or a look-alike of one, with 'ſ' or 'K' for an 's' or a 'k'),
// values how many values it holds.
type hsEntry struct {
	name   string
	values int
}

// hsDecode turns fuzz data into header-map entries. Each entry is a byte
// choosing the name (low bits) and whether to make a Unicode look-alike of
// it (bit 7), one bit per byte of the name choosing upper or lower case,
// and a byte whose low two bits give the number of values (0 to 3).
func hsDecode(data []byte) []hsEntry {
	var out []hsEntry
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	for len(data) > 0 && len(out) < 32 {
		sel := next()
		name := []byte(hsNames[int(sel&0x7f)%len(hsNames)])
		var mask byte
		for i := range name {
			if i%8 == 0 {
				mask = next()
			}
			if mask&(1<<(i%8)) != 0 {
				name[i] = upperASCII(name[i])
			} else {
				name[i] = lowerASCII(name[i])
			}
		}
		key := string(name)
		if sel&0x80 != 0 {
			if i := strings.IndexAny(key, "sS"); i >= 0 {
				key = key[:i] + "ſ" + key[i+1:] // U+017F LATIN SMALL LETTER LONG S
			} else if i := strings.IndexAny(key, "kK"); i >= 0 {
				key = key[:i] + "\u212a" + key[i+1:] // U+212A KELVIN SIGN
			}
		}
		out = append(out, hsEntry{name: key, values: int(next() & 3)})
	}
	return out
}

// hsEncode is the inverse of hsDecode for seeds: spellings of hsNames
// (ASCII only) and their number of values.
func hsEncode(entries ...hsEntry) []byte {
	var data []byte
	for _, e := range entries {
		idx := slices.IndexFunc(hsNames, func(n string) bool { return strings.EqualFold(n, e.name) })
		if idx < 0 {
			panic("hsEncode: not a spelling of a known name: " + e.name)
		}
		data = append(data, byte(idx))
		var mask byte
		for i := 0; i < len(e.name); i++ {
			if c := e.name[i]; 'A' <= c && c <= 'Z' {
				mask |= 1 << (i % 8)
			}
			if i%8 == 7 || i == len(e.name)-1 {
				data = append(data, mask)
				mask = 0
			}
		}
		data = append(data, byte(e.values))
	}
	return data
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hsCred sets fixed values under canonical names, announcing the ones other
// than Authorization and X-Api-Key through HeaderNamer.
type hsCred struct {
	set   map[string]string
	extra []string
}

func (c hsCred) Apply(_ context.Context, h http.Header) (any, error) {
	for k, v := range c.set {
		h.Set(k, v)
	}
	return nil, nil
}

func (c hsCred) HeaderNames() []string { return c.extra }

// hsConfig is one Auth configuration under test: an AudiModal-like one
// (bearer token, a secret header of the credential's own, X-Tenant-ID) and
// an Artanis-like one (x-api-key, with x-org-slug as the tenant header, the
// override replacing the slug the credential set).
type hsConfig struct {
	cred         hsCred
	tenantHeader string // as configured, not canonical
}

var hsConfigs = []hsConfig{
	{cred: hsCred{set: map[string]string{"Authorization": "Bearer cred-token", "X-Extra-Secret": "cred-extra"}, extra: []string{"x-extra-secret"}}, tenantHeader: "x-tenant-id"},
	{cred: hsCred{set: map[string]string{"X-Api-Key": "cred-key", "X-Org-Slug": "cred-slug"}, extra: []string{"x-org-slug"}}, tenantHeader: "X-ORG-SLUG"},
}

// credNames returns the names Auth strips from a cross-origin hop under
// cfg: Authorization, X-Api-Key, the tenant header and the
// credential's HeaderNames, all canonical.
func (cfg hsConfig) credNames() []string {
	names := []string{"Authorization", "X-Api-Key", http.CanonicalHeaderKey(cfg.tenantHeader)}
	for _, n := range cfg.cred.extra {
		names = append(names, http.CanonicalHeaderKey(n))
	}
	return names
}

// isCred reports whether key spells one of cfg.credNames().
func (cfg hsConfig) isCred(key string) bool {
	return slices.Contains(cfg.credNames(), http.CanonicalHeaderKey(key))
}

// hsSpellings returns the keys of h that are spellings of name, by
// http.CanonicalHeaderKey (which leaves names holding non-ASCII bytes as
// they are, so that 'ſ' and 'K' spell nothing), sorted byte-wise as
// net/http writes them, and their values in that order.
func hsSpellings(h http.Header, name string) (keys, values []string) {
	for k := range h {
		if http.CanonicalHeaderKey(k) == name {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		values = append(values, h[k]...)
	}
	return keys, values
}

// hsValidTenant is the documented rule for a tenant value: 1 to 256 bytes
// of visible ASCII.
func hsValidTenant(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzHeaderSpellings builds header maps holding credential and tenant
// headers under every spelling (random case per byte, duplicates, several
// keys for one name, zero to three values each, Unicode look-alikes) and
// checks the two promises [Auth] makes about them:
//
//   - on a redirect hop that crossed origins, no spelling of any credential
//     or tenant header is sent, every other key is sent as it was;
//   - on a request to the origin with a WithTenant override, every spelling
//     of the tenant header is replaced by exactly one value, the override;
//     every spelling of a header the credential sets is replaced by the
//     credential's one value; the other credential names keep the caller's
//     values, in the order net/http would have sent them, under one key;
//     every other key is sent as it was.
//
// The caller's header map is never modified.
func FuzzHeaderSpellings(f *testing.F) {
	f.Add(hsEncode(hsEntry{"x-api-key", 1}), "mine")                                                      // issue 13 row 1
	f.Add(hsEncode(hsEntry{"authorization", 1}), "mine")                                                  // issue 13 row 1, Authorization
	f.Add(hsEncode(hsEntry{"x-tenant-id", 1}), "mine")                                                    // issue 13 row 2
	f.Add(hsEncode(hsEntry{"x-org-slug", 1}, hsEntry{"X-Org-Slug", 1}), "mine")                           // row 2 for Artanis
	f.Add(hsEncode(hsEntry{"X-Tenant-Id", 2}, hsEntry{"x-TENANT-id", 3}, hsEntry{"x-tenant-ID", 0}), "t") // many keys
	f.Add(hsEncode(hsEntry{"AUTHORIZATION", 3}, hsEntry{"Authorization", 1}, hsEntry{"aUtHoRiZaTiOn", 2},
		hsEntry{"x-extra-secret", 1}, hsEntry{"accept", 1}, hsEntry{"X-Request-Id", 2}), "")
	f.Add(append(hsEncode(hsEntry{"x-api-key", 1}), 0x80|2, 0, 0, 1), "mine")     // and a look-alike x-org-ſlug
	f.Add(append(hsEncode(hsEntry{"authorization", 1}), 0x80|1, 0, 0, 1), "mine") // and a look-alike x-api-\u212aey
	f.Add(hsEncode(hsEntry{"x-tenant-id", 1}), "bad value")                       // an invalid override
	f.Fuzz(func(t *testing.T, data []byte, override string) {
		entries := hsDecode(data)
		orig := http.Header{}
		for i, e := range entries {
			vs := orig[e.name]
			if vs == nil {
				vs = []string{}
			}
			for j := 0; j < e.values; j++ {
				vs = append(vs, "v"+strconv.Itoa(i)+"."+strconv.Itoa(j))
			}
			orig[e.name] = vs
		}
		for _, cfg := range hsConfigs {
			hsCheckStrip(t, cfg, orig)
			hsCheckAttach(t, cfg, orig, override)
		}
	})
}

// hsRun sends a request with a copy of orig through an Auth of cfg and
// returns the header map the base received (nil if none) and the error.
func hsRun(t *testing.T, cfg hsConfig, orig http.Header, req *http.Request) (http.Header, error) {
	t.Helper()
	req.Header = orig.Clone()
	var got http.Header
	a := &Auth{
		Base: testrt.Func(func(r *http.Request) (*http.Response, error) {
			got = r.Header
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}),
		AuthOptions: AuthOptions{Credential: cfg.cred, Origin: "https://a.test", TenantHeader: cfg.tenantHeader},
	}
	_, err := a.RoundTrip(req)
	if !hsHeaderEqual(req.Header, orig) {
		t.Fatalf("the caller's header map was modified: %q, was %q", req.Header, orig)
	}
	return got, err
}

func hsCheckStrip(t *testing.T, cfg hsConfig, orig http.Header) {
	first := authNewReq(t, context.Background(), http.MethodGet, "https://a.test/start", nil)
	req := authNewReq(t, context.Background(), http.MethodGet, "https://b.test/landing", nil)
	req.Response = &http.Response{StatusCode: http.StatusFound, Request: first}
	got, err := hsRun(t, cfg, orig, req)
	if err != nil {
		t.Fatalf("cross-origin hop: %v", err)
	}
	for k := range got {
		if cfg.isCred(k) {
			t.Errorf("cross-origin hop (tenant header %s) carries %q; input %q", cfg.tenantHeader, k, orig)
		}
	}
	for k, v := range orig {
		if !cfg.isCred(k) && !slices.Equal(got[k], v) {
			t.Errorf("cross-origin hop: %q = %q, want it sent as it was, %q", k, got[k], v)
		}
	}
}

func hsCheckAttach(t *testing.T, cfg hsConfig, orig http.Header, override string) {
	req := authNewReq(t, tenantctx.With(context.Background(), override), http.MethodGet, "https://a.test/v1/files", nil)
	got, err := hsRun(t, cfg, orig, req)
	if override != "" && !hsValidTenant(override) {
		if err == nil || got != nil {
			t.Fatalf("invalid override %q: err %v, sent %v; want an error and nothing sent", override, err, got != nil)
		}
		return
	}
	if err != nil {
		t.Fatalf("request to the origin: %v", err)
	}
	tenantHeader := http.CanonicalHeaderKey(cfg.tenantHeader)
	for _, name := range cfg.credNames() {
		keys, values := hsSpellings(got, name)
		_, in := hsSpellings(orig, name)
		var want []string
		if v, ok := cfg.cred.set[name]; ok {
			want = []string{v}
		}
		if name == tenantHeader && override != "" {
			want = []string{override}
		}
		if want == nil {
			want = in // neither the credential nor the override sets it
		}
		if len(keys) > 1 || !slices.Equal(values, want) {
			t.Errorf("request to the origin (tenant header %s, override %q): %s sent as keys %q with values %q, want one key with %q; input %q",
				cfg.tenantHeader, override, name, keys, values, want, orig)
		}
	}
	for k, v := range orig {
		if !cfg.isCred(k) && !slices.Equal(got[k], v) {
			t.Errorf("request to the origin: %q = %q, want it sent as it was, %q", k, got[k], v)
		}
	}
}

// hsHeaderEqual reports whether a and b hold the same keys and values
// (a nil and an empty value slice are equal).
func hsHeaderEqual(a, b http.Header) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}
