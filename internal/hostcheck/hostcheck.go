// Package hostcheck holds the one loopback test every layer of apiauth uses
// to decide whether plain http:// is acceptable, so the root package and the
// transport layers cannot disagree about which hosts are local.
package hostcheck

import "net/netip"

// Loopback reports whether host (without brackets or port) is localhost or a
// loopback IP address (127.0.0.0/8, ::1, or ::ffff:127.0.0.1) without an IPv6
// zone. "localhost"
// is compared under ASCII case folding only: Unicode folding would take
// "localhoſt" (with U+017F, long s) for it, a name that resolves elsewhere.
func Loopback(host string) bool {
	if EqualFold(host, "localhost") {
		return true
	}
	// An IPv6 zone ("::1%lo") is refused: a zone is any string, and the
	// check must not rest on what a resolver does with it.
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// EqualFold reports whether a and b are equal under ASCII case folding
// only. Unicode folding (strings.EqualFold) would equate "ſ" (U+017F) with
// "s" and "K" (U+212A, KELVIN SIGN) with "k", so a host or header name
// matches only its ASCII spelling. It is the one such comparison apiauth
// uses, for hosts, schemes and header names alike.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
