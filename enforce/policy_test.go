package enforce

import (
	"errors"
	"strings"
	"testing"

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

func TestSecurePolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		o        ReplyOptions
		want     string
		dropped  int
	}{
		{"policy order kept, wildcard as dot", []string{"mx2.example.com", "*.mail.example.com", "mx1.example.com"}, ReplyOptions{},
			"secure match=mx2.example.com:.mail.example.com:mx1.example.com servername=hostname", 0},
		{"case, trailing dot and duplicates", []string{"MX.Example.COM.", "mx.example.com"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 0},
		{"postfix before 3.4", []string{"mx.example.com"}, ReplyOptions{NoServername: true},
			"secure match=mx.example.com", 0},
		// RFC 8461 §4.1: an IP address never matches an MX host name.
		{"IP addresses left out", []string{"192.0.2.1", "mx.example.com", "2001:db8::1", "*.198.51.100.7"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 3},
		{"separators never reach Postfix", []string{"a:b.example", "c{d}.example", "e,f.example", "g h.example", "mx.example.com"}, ReplyOptions{},
			"secure match=mx.example.com servername=hostname", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dropped, err := SecurePolicy("example.com", tc.patterns, "", tc.o)
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
		got, _, err := SecurePolicy("example.com", patterns, "", ReplyOptions{})
		if !errors.Is(err, ErrNoUsableMX) || got != "" {
			t.Errorf("%q: got %q, %v; want ErrNoUsableMX", patterns, got, err)
		}
	}
}

func TestSecurePolicyTLSRPT(t *testing.T) {
	text := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: 192.0.2.1\r\n\r\nmax_age: 604800\r\nnote: {x}\r\n"
	p := mustPolicy(t, text)
	got, _, err := SecurePolicy("example.com", p.MX, text, ReplyOptions{TLSRPT: true})
	if err != nil {
		t.Fatal(err)
	}
	// Postfix TLSRPT_README: policy_type, policy_domain, one braced
	// policy_string per policy line, one mx_host_pattern per usable mx.
	want := "secure match=mail.example.com:.example.net servername=hostname" +
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
