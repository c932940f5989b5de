package hostcheck

import "testing"

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "LocalHost": true,
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "::ffff:127.0.0.1": true,
		"localhoſt": false,                    // U+017F folds to 's' under Unicode rules only
		"::1%lo":    false, "::1%\x95": false, // zones refused
		"localhost.": false, "localhost.example.com": false, "evil-localhost": false,
		"10.0.0.1": false, "::": false, "0.0.0.0": false, "": false, "api.example.com": false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func FuzzLoopback(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1", "::1", "localhoſt", "LOCALHOST"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !Loopback(host) {
			return
		}
		// Anything taken for loopback is ASCII "localhost" or an IP.
		if len(host) == len("localhost") && EqualFold(host, "localhost") {
			return
		}
		for i := 0; i < len(host); i++ {
			if host[i] >= 0x80 {
				t.Fatalf("non-ASCII host %q taken for loopback", host)
			}
		}
	})
}
