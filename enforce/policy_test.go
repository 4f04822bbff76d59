package enforce

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

func mustPolicy(t *testing.T, text string) *sts.Policy {
	t.Helper()
	p, err := sts.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Replies to Postfix, byte for byte, for the example policy of RFC 8461
// §3.2 that Postfix's TLSRPT_README uses, by Postfix version
// (testdata/replies.json). The MX hosts published are, in preference
// order, mail.example.com, a.b.example.net (two labels below
// *.example.net: not covered), mx1.example.net, other.example.org (not
// covered) and backupmx.example.com, unless a case says otherwise. Each
// example of TLSRPT_README ("readme") appears in a reply as written there.
func TestReplies(t *testing.T) {
	b, err := os.ReadFile("testdata/replies.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Postfix, Policy, Failure, Want string
		MX, Readme                           []string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cfg := DefaultConfig(func(string) string { return "" })
			cfg.PostfixVersion = tc.Postfix
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			d := resolver.Decision{Domain: "example.com", Kind: resolver.NoPolicy}
			for f := resolver.NoFetchFailure; f <= resolver.WebPKIInvalid; f++ {
				if tc.Failure != "" && string(f.ResultType()) == tc.Failure {
					d.Failure = f
				}
			}
			if tc.Policy != "" {
				text, err := os.ReadFile(filepath.Join("testdata", tc.Policy))
				if err != nil {
					t.Fatal(err)
				}
				p := mustPolicy(t, string(text))
				d = resolver.Decision{Domain: "example.com", Kind: resolver.Kind(p.Mode), MX: p.MX, Policy: p, Text: string(text)}
			}
			mx := &resolver.MXHosts{Domain: "example.com", Hosts: tc.MX}
			if mx.Hosts == nil {
				mx.Hosts = []string{"mail.example.com", "a.b.example.net", "mx1.example.net", "other.example.org", "backupmx.example.com"}
			}
			got, _, _ := Reply(d, mx, cfg.replyOptions(d.Domain))
			if got.String() != tc.Want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.Want)
			}
			for _, example := range tc.Readme {
				if !strings.Contains(got.String(), example) {
					t.Errorf("TLSRPT_README example %q is not in the reply", example)
				}
			}
		})
	}
}

func TestSecurePolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		hosts    []string
		o        ReplyOptions
		want     string
		dropped  int
	}{
		{"MX preference order kept", []string{"mx2.example.com", "*.mail.example.com", "mx1.example.com"}, []string{"mx1.example.com", "a.mail.example.com", "mx2.example.com"}, ReplyOptions{},
			"secure match=mx1.example.com:a.mail.example.com:mx2.example.com servername=hostname", 0},
		{"case, trailing dot and duplicates", []string{"MX.Example.COM.", "mx.example.com"}, []string{"mx.example.com", "mx.example.com"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 0},
		{"postfix before 3.4", []string{"mx.example.com"}, []string{"mx.example.com"}, ReplyOptions{NoServername: true},
			"secure match=mx.example.com", 0},
		{"postfix 3.10.5: the patterns, policy order, wildcard as dot", []string{"mx2.example.com", "*.mail.example.com"}, nil, ReplyOptions{TLSRPT: true, MTAMatchesMX: true},
			"secure match=mx2.example.com:.mail.example.com servername=hostname policy_type=sts policy_domain=example.com mx_host_pattern=mx2.example.com mx_host_pattern=*.mail.example.com", 0},
		// RFC 8461 §4.1: an IP address never matches an MX host name.
		{"IP addresses left out", []string{"192.0.2.1", "mx.example.com", "2001:db8::1", "*.198.51.100.7"}, []string{"192.0.2.1", "mx.example.com"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 3},
		{"separators never reach Postfix", []string{"a:b.example", "c{d}.example", "e,f.example", "g h.example", "*.example.com"}, []string{"a:b.example.com", "mx.example.com"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dropped, err := SecurePolicy("example.com", tc.patterns, tc.hosts, "", tc.o)
			if err != nil || got != tc.want || len(dropped) != tc.dropped {
				t.Errorf("got %q, dropped %q, err %v\nwant %q and %d dropped", got, dropped, err, tc.want, tc.dropped)
			}
		})
	}
}

// An enforce policy with nothing Postfix can match must never become an
// empty match list (RFC 8461 §5: no MX may then be used).
func TestSecurePolicyNoUsableMX(t *testing.T) {
	for _, patterns := range [][]string{nil, {"192.0.2.1"}, {"[::1]", "2001:db8::25"}} {
		got, _, err := SecurePolicy("example.com", patterns, []string{"mx.example.com"}, "", ReplyOptions{})
		if !errors.Is(err, ErrNoUsableMX) || got != "" {
			t.Errorf("%q: got %q, %v; want ErrNoUsableMX", patterns, got, err)
		}
	}
	for _, hosts := range [][]string{nil, {"a.mx.example.com", "example.com", "mx.example.net"}} {
		got, _, err := SecurePolicy("example.com", []string{"*.example.com"}, hosts, "", ReplyOptions{})
		if !errors.Is(err, ErrNoCoveredMX) || got != "" {
			t.Errorf("MX hosts %q: got %q, %v; want ErrNoCoveredMX", hosts, got, err)
		}
	}
}

func TestSecurePolicyTLSRPT(t *testing.T) {
	text := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: 192.0.2.1\r\n\r\nmax_age: 604800\r\nnote: {x}\r\n"
	p := mustPolicy(t, text)
	got, _, err := SecurePolicy("example.com", p.MX, []string{"mail.example.com"}, text, ReplyOptions{TLSRPT: true})
	if err != nil {
		t.Fatal(err)
	}
	// Postfix TLSRPT_README: policy_type, policy_domain, one braced
	// policy_string per policy line, one mx_host_pattern per usable mx.
	want := "secure match=mail.example.com servername=hostname" +
		" policy_type=sts policy_domain=example.com" +
		" { policy_string = version: STSv1 } { policy_string = mode: enforce }" +
		" { policy_string = mx: mail.example.com } { policy_string = mx: *.example.net }" +
		" { policy_string = mx: 192.0.2.1 } { policy_string = max_age: 604800 }" +
		" mx_host_pattern=mail.example.com mx_host_pattern=*.example.net"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "{x}") {
		t.Error("a line with braces reached Postfix")
	}
}

// RFC 8461 §4.1: an MX host is covered when it equals a pattern or is one
// label more than a "*." pattern's domain; never two labels more. Hosts
// keep their (preference) order.
func TestCoveredHosts(t *testing.T) {
	hosts := []string{"mx.in.example.com", "mx1.example.com", "example.com", "mail.example.com", "mx.other.test", "a:b.example.com"}
	for _, tc := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"*.example.com"}, []string{"mx1.example.com", "mail.example.com"}},
		{[]string{"mail.example.com"}, []string{"mail.example.com"}},
		{[]string{"mx.in.example.com", "mx.other.test"}, []string{"mx.in.example.com", "mx.other.test"}},
		{[]string{"*.in.example.com", "*.mail.example.com"}, []string{"mx.in.example.com"}},
		{[]string{"*.com"}, []string{"example.com"}},
		{nil, nil},
	} {
		if got := coveredHosts(tc.patterns, hosts); !slices.Equal(got, tc.want) {
			t.Errorf("%q: covered %q, want %q", tc.patterns, got, tc.want)
		}
	}
}
