package enforce

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

var eximRequests = []struct {
	in, key string // key "" means ErrEximRequest
}{
	{"example.com\n", "example.com"},
	{"Example.COM.\n", "Example.COM."},
	{"[smart.example.com]:587\n", "[smart.example.com]:587"},
	{"bücher.example\n", "bücher.example"},
	{"", ""},
	{"\n", ""},
	{"example.com", ""},
	{"example.com\r\n", ""},
	{"example.com\n\n", ""},
	{"example.com\nother.com\n", ""},
	{"a b\n", ""},
	{"a\tb\n", ""},
	{"a\u00a0b\n", ""},
	{"a\u0085b\n", ""},
	{"a\"b\n", ""},
	{"a\\b\n", ""},
	{"\xff\n", ""},
	{strings.Repeat("a", MaxEximRequest-1) + "\n", strings.Repeat("a", MaxEximRequest-1)},
	{strings.Repeat("a", MaxEximRequest) + "\n", ""},
}

func TestParseEximRequest(t *testing.T) {
	for _, tc := range eximRequests {
		key, err := ParseEximRequest([]byte(tc.in))
		if tc.key == "" {
			if !errors.Is(err, ErrEximRequest) {
				t.Errorf("ParseEximRequest(%q) = %q, %v; want ErrEximRequest", tc.in, key, err)
			}
			continue
		}
		if err != nil || key != tc.key {
			t.Errorf("ParseEximRequest(%q) = %q, %v; want %q", tc.in, key, err, tc.key)
		}
	}
}

// ReadEximRequest returns at the newline, without waiting for the client
// to close (readsocket's shutdown=no), and does not read past the limit.
func TestReadEximRequest(t *testing.T) {
	r, w := io.Pipe()
	go w.Write([]byte("example.com\n")) // and never closes
	if key, err := ReadEximRequest(r); err != nil || key != "example.com" {
		t.Errorf("ReadEximRequest = %q, %v", key, err)
	}
	for _, in := range []string{"example.com", strings.Repeat("a", 10*MaxEximRequest) + "\n", ""} {
		if key, err := ReadEximRequest(strings.NewReader(in)); !errors.Is(err, ErrEximRequest) {
			t.Errorf("ReadEximRequest(%.20q…) = %q, %v; want ErrEximRequest", in, key, err)
		}
	}
	for _, tc := range eximRequests {
		key, err := ReadEximRequest(strings.NewReader(tc.in))
		if tc.key != "" && (err != nil || key != tc.key) {
			t.Errorf("ReadEximRequest(%.20q…) = %q, %v; want %q", tc.in, key, err, tc.key)
		}
	}
}

func TestEximAnswer(t *testing.T) {
	enforce := resolver.Decision{Domain: "example.com", Kind: resolver.Enforce, MX: []string{"mx1.example.com", "*.mail.example.com"}}
	for _, tc := range []struct {
		name string
		res  Result
		want string
	}{
		{"enforce", Result{Decision: enforce, Reply: socketmap.OK("secure match=…")},
			`action=enforce policy=enforce domain=example.com mx=mx1.example.com:*.mail.example.com uncovered=!^mx1\.example\.com$:!^[^.]+\.mail\.example\.com$:*`},
		{"strict testing", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Testing, MX: []string{"mx.example.com"}}, Reply: socketmap.OK("secure")},
			`action=enforce policy=testing domain=example.com mx=mx.example.com uncovered=!^mx\.example\.com$:*`},
		{"testing", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Testing, MX: []string{"mx.example.com"}}, Reply: socketmap.NotFound()},
			`action=deliver policy=testing domain=example.com`},
		{"none", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.None}, Reply: socketmap.NotFound()},
			`action=deliver policy=none domain=example.com`},
		{"no policy", Result{Decision: resolver.Decision{Domain: "example.org", Kind: resolver.NoPolicy}, Reply: socketmap.NotFound()},
			`action=deliver policy=no-policy domain=example.org`},
		{"no domain", Result{Decision: resolver.Decision{Kind: resolver.NoPolicy}, Reply: socketmap.NotFound()},
			`action=deliver policy=no-policy`},
		{"dane", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.DANE}, Reply: socketmap.OK("dane")},
			`action=dane policy=dane domain=example.com`},
		{"tempfail", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Tempfail}, Reply: socketmap.Temp(`MTA-STS policy of example.com unknown for now: "x" \ y`)},
			`action=defer policy=tempfail domain=example.com reason="MTA-STS policy of example.com unknown for now: \"x\" \\ y"`},
		{"unusable", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Enforce, MX: []string{"192.0.2.1"}}, Reply: socketmap.Temp("MTA-STS: no usable mx pattern")},
			`action=defer policy=enforce domain=example.com reason="MTA-STS: no usable mx pattern"`},
		// Never "enforce" without a pattern, whatever the reply says.
		{"enforce, no pattern", Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Enforce, MX: []string{"a:b"}}, Reply: socketmap.OK("secure")},
			`action=defer policy=enforce domain=example.com reason="MTA-STS: the policy of example.com has no usable mx pattern"`},
	} {
		if got := EximAnswer(tc.res); got != tc.want+"\n" {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want+"\n")
		}
	}
}

// The uncovered list matches as RFC 8461 §4.1 says, read the way Exim
// reads a host list: items in order, the first match decides, "!"
// negates, "^…" is a regular expression matched against the host name
// without regard to case, "*" matches every host.
func TestUncoveredHosts(t *testing.T) {
	list := uncoveredHosts([]string{"mx1.example.com", "*.mail.example.com"})
	for host, uncovered := range map[string]bool{
		"mx1.example.com":          false,
		"MX1.Example.COM":          false,
		"a.mail.example.com":       false,
		"mail.example.com":         true,
		"a.b.mail.example.com":     true,
		"mx1.example.com.evil.net": true,
		"mx1xexample.com":          true,
		"mx2.example.com":          true,
	} {
		if got := eximHostListMatch(t, list, host); got != uncovered {
			t.Errorf("%s in %q = %v, want %v", host, list, got, uncovered)
		}
	}
}

// eximHostListMatch reports whether host is in an Exim host list of
// regular expressions and "*", as Exim decides it.
func eximHostListMatch(t *testing.T, list, host string) bool {
	for item := range strings.SplitSeq(list, ":") {
		negated := strings.HasPrefix(item, "!")
		item = strings.TrimPrefix(item, "!")
		if item == "*" {
			return !negated
		}
		re, err := regexp.Compile("(?i)" + item)
		if err != nil {
			t.Fatalf("item %q: %v", item, err)
		}
		if re.MatchString(host) {
			return !negated
		}
	}
	return false
}

// eximExtract returns the value of key in s as Exim's ${extract{key}{s}}
// finds it: fields "key=value" separated by white space, a value either
// a word or a double-quoted string in which a backslash escapes the next
// character (the escapes EximAnswer writes).
func eximExtract(key, s string) (string, bool) {
	s = strings.TrimLeft(s, " \t\n")
	for s != "" {
		i := strings.IndexAny(s, "= \t\n")
		if i < 0 {
			i = len(s)
		}
		k := s[:i]
		s = strings.TrimLeft(s[i:], " \t\n")
		if strings.HasPrefix(s, "=") {
			s = strings.TrimLeft(s[1:], " \t\n")
		}
		var v strings.Builder
		if strings.HasPrefix(s, `"`) {
			s = s[1:]
			for s != "" && s[0] != '"' {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				v.WriteByte(s[0])
				s = s[1:]
			}
			s = strings.TrimPrefix(s, `"`)
		} else {
			j := strings.IndexAny(s, " \t\n")
			if j < 0 {
				j = len(s)
			}
			v.WriteString(s[:j])
			s = s[j:]
		}
		if k == key {
			return v.String(), true
		}
		s = strings.TrimLeft(s, " \t\n")
	}
	return "", false
}

// checkEximAnswer checks that an answer is one line whose fields Exim
// reads back as they were meant.
func checkEximAnswer(t *testing.T, answer string, want map[string]string) {
	t.Helper()
	line, ok := strings.CutSuffix(answer, "\n")
	if !ok || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("answer %q is not one line", answer)
	}
	for k, v := range want {
		if got, ok := eximExtract(k, line); !ok || got != v {
			t.Errorf("${extract{%s}} of %q = %q, %v; want %q", k, line, got, ok, v)
		}
	}
}

func TestEximAnswerExtract(t *testing.T) {
	reason := "a \"quoted\" reason\\with\tspace\nand lines"
	res := Result{Decision: resolver.Decision{Domain: "example.com", Kind: resolver.Tempfail}, Reply: socketmap.Temp(reason)}
	checkEximAnswer(t, EximAnswer(res), map[string]string{
		"action": "defer", "policy": "tempfail", "domain": "example.com", "reason": oneLine(reason),
	})
}

// FuzzParseEximRequest checks that a request is taken or refused whole:
// a key is one word of the request, and the answer to it, whatever it
// holds, is one line that Exim reads back.
func FuzzParseEximRequest(f *testing.F) {
	for _, tc := range eximRequests {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := ParseEximRequest(in)
		if err != nil {
			if !errors.Is(err, ErrEximRequest) {
				t.Fatalf("error %v does not wrap ErrEximRequest", err)
			}
			checkEximAnswer(t, EximAnswer(Result{Reply: socketmap.Temp("mtasts: " + err.Error())}),
				map[string]string{"action": "defer", "reason": oneLine("mtasts: " + err.Error())})
			return
		}
		if key == "" || string(in) != key+"\n" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' }) {
			t.Fatalf("ParseEximRequest(%q) = %q", in, key)
		}
		if got, err := ReadEximRequest(strings.NewReader(string(in) + "trailing")); err != nil || got != key {
			t.Fatalf("ReadEximRequest(%q) = %q, %v; ParseEximRequest gave %q", in, got, err, key)
		}
		res := Result{Decision: resolver.Decision{Domain: key, Kind: resolver.Tempfail}, Reply: socketmap.Temp("no answer for " + key)}
		checkEximAnswer(t, EximAnswer(res), map[string]string{"action": "defer", "domain": key, "reason": "no answer for " + key})
	})
}

// eximAsk sends request on a new connection to the UNIX socket at path,
// as ${readsocket} does (with shutdown=no when keepOpen), and returns
// everything read until the daemon closes the connection.
func eximAsk(t *testing.T, path, request string, keepOpen bool) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	if !keepOpen {
		c.(*net.UnixConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", request, err)
	}
	return string(b)
}

// The daemon's exim_listen socket answers one request per connection
// and closes it, whether or not the client shut its side down.
func TestDaemonEximSocket(t *testing.T) {
	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx.example.com.")
	w.PolicyDomain("example.com", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n")
	sock := filepath.Join(t.TempDir(), "exim.sock")
	d := startService(t, w, "", func(c *Config) { c.EximListen = []string{"unix:" + sock} })
	if got := d.s.EximAddrs(); len(got) != 1 || got[0].String() != sock {
		t.Errorf("EximAddrs() = %v", got)
	}
	checkEximAnswer(t, eximAsk(t, sock, "example.com\n", false), map[string]string{
		"action": "enforce", "policy": "enforce", "domain": "example.com", "mx": "mx.example.com", "uncovered": `!^mx\.example\.com$:*`})
	checkEximAnswer(t, eximAsk(t, sock, "example.com\n", true), map[string]string{"action": "enforce"})
	checkEximAnswer(t, eximAsk(t, sock, "[192.0.2.1]\n", false), map[string]string{"action": "deliver", "policy": "no-policy"})
	for _, bad := range []string{"example.com", "two words\n", ""} {
		answer := eximAsk(t, sock, bad, false)
		checkEximAnswer(t, answer, map[string]string{"action": "defer"})
		if r, _ := eximExtract("reason", answer); !strings.Contains(r, "bad exim request") {
			t.Errorf("answer to %q: reason %q", bad, r)
		}
	}
	d.waitLog(`exim: bad request`)
}
