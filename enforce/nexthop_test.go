package enforce

import (
	"errors"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/sts"
)

// nextHops are the lookup keys of TestParseNextHop, and the seeds of
// FuzzParseNextHop.
var nextHops = []struct {
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
	// RFC 8461 §3.4: the smart host domain is the policy domain: the
	// host's own name, normalized, never a parent of it.
	{"[relay.example.net]", "relay.example.net", true, "", nil},
	{"[relay.example.net]:587", "relay.example.net", true, "587", nil},
	{"[Relay.Example.NET.]:smtp", "relay.example.net", true, "smtp", nil},
	// RFC 8461 §3.4: no policy for address literals.
	{"[192.0.2.1]:25", "", true, "25", ErrAddressLiteral},
	{"[ipv6:2001:db8::1]", "", true, "", ErrAddressLiteral},
	{"[IPv6:2001:db8::1]:25", "", true, "25", ErrAddressLiteral},
	{"192.0.2.1", "", false, "", ErrAddressLiteral},
	{"192.0.2.1:25", "", false, "25", ErrAddressLiteral},
	{"2001:db8::1", "", false, "", ErrAddressLiteral},
	// RFC 8461 §3.4: Postfix's parent-domain lookups never reach a
	// parent's policy.
	{".example.com", "", false, "", ErrParentDomain},
	{".com", "", false, "", ErrParentDomain},
	{"[.example.com]", "", true, "", ErrParentDomain},
	{"", "", false, "", ErrNotDomain},
	{"[]", "", true, "", ErrNotDomain},
	{"/var/run/lmtp.sock", "", false, "", ErrNotDomain},
	{"[relay.example.net", "", false, "", ErrNotDomain},
	{"[relay.example.net]x", "", false, "", ErrNotDomain},
	{"[relay.example.net]:", "", false, "", ErrNotDomain},
	{"example.com:", "", false, "", ErrNotDomain},
	{"exa mple.com", "", false, "", ErrNotDomain},
}

// The one test of the next-hop grammar (RFC 8461 §3.4).
func TestParseNextHop(t *testing.T) {
	for _, tc := range nextHops {
		nh, err := ParseNextHop(tc.key)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%q: err %v, want %v", tc.key, err, tc.err)
			continue
		}
		if nh.Key != tc.key || nh.Domain != tc.domain || nh.SmartHost != tc.smart || nh.Port != tc.port {
			t.Errorf("%q: got %+v, want domain %q smart %v port %q", tc.key, nh, tc.domain, tc.smart, tc.port)
		}
	}
}

// FuzzParseNextHop: no key makes ParseNextHop panic; an error wraps one
// of its three sentinels; a policy domain is a normalized domain name that
// is its own policy domain, whatever port or brackets came with it.
func FuzzParseNextHop(f *testing.F) {
	for _, tc := range nextHops {
		f.Add(tc.key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		nh, err := ParseNextHop(key)
		if err != nil {
			if !errors.Is(err, ErrParentDomain) && !errors.Is(err, ErrAddressLiteral) && !errors.Is(err, ErrNotDomain) {
				t.Fatalf("%q: error %v wraps no sentinel", key, err)
			}
			if nh.Domain != "" {
				t.Fatalf("%q: error %v with domain %q", key, err, nh.Domain)
			}
			return
		}
		if d, err := sts.NormalizeDomain(nh.Domain); err != nil || d != nh.Domain {
			t.Fatalf("%q: domain %q is not normalized: %q, %v", key, nh.Domain, d, err)
		}
		if nh.SmartHost != strings.HasPrefix(key, "[") {
			t.Fatalf("%q: SmartHost %v", key, nh.SmartHost)
		}
		for _, again := range []string{nh.Domain, "[" + nh.Domain + "]:25"} {
			if nh2, err := ParseNextHop(again); err != nil || nh2.Domain != nh.Domain {
				t.Fatalf("%q gives %q, but %q gives %+v, %v", key, nh.Domain, again, nh2, err)
			}
		}
	})
}
