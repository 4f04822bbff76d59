package enforce

import (
	"errors"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/sts"
)

func TestParseNextHop(t *testing.T) {
	for _, tc := range []struct {
		key    string
		domain string
		smart  bool
		port   string
		err    error
	}{
		{"example.com", "example.com", false, "", nil},
		{"Example.COM.", "example.com", false, "", nil},
		{"example.com:2525", "example.com", false, "2525", nil},
		{"bücher.example", "xn--bcher-kva.example", false, "", nil},
		// RFC 8461 §3.4: the smart host domain is the policy domain.
		{"[relay.example.net]", "relay.example.net", true, "", nil},
		{"[relay.example.net]:587", "relay.example.net", true, "587", nil},
		// RFC 8461 §3.4: no policy for address literals.
		{"[192.0.2.1]:25", "", true, "25", ErrAddressLiteral},
		{"[ipv6:2001:db8::1]", "", true, "", ErrAddressLiteral},
		{"192.0.2.1", "", false, "", ErrAddressLiteral},
		{"2001:db8::1", "", false, "", ErrAddressLiteral},
		// Postfix's parent-domain lookups: never fall back to a parent.
		{".example.com", "", false, "", ErrParentDomain},
		{".com", "", false, "", ErrParentDomain},
		{"", "", false, "", ErrNotDomain},
		{"/var/run/lmtp.sock", "", false, "", ErrNotDomain},
		{"[relay.example.net", "", false, "", ErrNotDomain},
		{"[relay.example.net]x", "", false, "", ErrNotDomain},
		{"example.com:", "", false, "", ErrNotDomain},
		{"exa mple.com", "", false, "", ErrNotDomain},
	} {
		nh, err := ParseNextHop(tc.key)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%q: err %v, want %v", tc.key, err, tc.err)
			continue
		}
		if nh.Domain != tc.domain || nh.SmartHost != tc.smart || nh.Port != tc.port {
			t.Errorf("%q: got %+v, want domain %q smart %v port %q", tc.key, nh, tc.domain, tc.smart, tc.port)
		}
	}
}

// The fast path of ParseNextHop accepts only names that
// sts.NormalizeDomain returns unchanged.
func TestPlainHostnameAgreesWithNormalizeDomain(t *testing.T) {
	for _, name := range []string{
		"example.com", "mx-1.example.com", "a.b.c.d.e", "123.example", "example.123", "x",
		"Example.com", "xn--bcher-kva.example", "exa_mple.com", "-a.example", "a-.example", "a..b",
		"1.2.3.4", "a.b.", "bücher.example", "ab--cd.example", strings.Repeat("a", 64) + ".example",
	} {
		if !isPlainHostname(name) {
			continue
		}
		if d, err := sts.NormalizeDomain(name); err != nil || d != name {
			t.Errorf("%q: fast path accepts it, NormalizeDomain gives %q, %v", name, d, err)
		}
	}
}
