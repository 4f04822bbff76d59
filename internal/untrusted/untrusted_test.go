package untrusted

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                            `""`,
		"mode: enforce":               `"mode: enforce"`,
		"\x1b]0;title\x07":            `"\x1b]0;title\a"`,
		"rlo\u202e":                   `"rlo\u202e"`,
		strings.Repeat("x", 10<<20):   `"` + strings.Repeat("x", QuoteMax) + `"… (10485760 bytes)`,
		strings.Repeat("é", 30):       `"` + strings.Repeat("é", QuoteMax/2) + `"… (60 bytes)`,
		"a" + strings.Repeat("é", 30): `"a` + strings.Repeat("é", (QuoteMax-1)/2) + `"… (61 bytes)`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%.20q) = %s, want %s", in, got, want)
		}
	}
}

func TestByte(t *testing.T) {
	for _, tc := range []struct {
		s    string
		i    int
		want string
	}{
		{"\ufeffversion", 0, "a UTF-8 byte order mark (bytes EF BB BF)"},
		{"a b", 1, "' '"},
		{"\x1b", 0, `'\x1b'`},
		{"\xff", 0, "byte 0xFF (not UTF-8)"},
		{"\xef\xbb", 0, "byte 0xEF (not UTF-8)"},
		{"xé", 1, "'é' (U+00E9)"},
	} {
		if got := Byte(tc.s, tc.i); got != tc.want {
			t.Errorf("Byte(%q, %d) = %s, want %s", tc.s, tc.i, got, tc.want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"Google Inc.":           "Google Inc.",
		"naïve — 日本":            "naïve — 日本",
		`back\slash`:            `back\slash`,
		"\x1b]0;pwned\x07":      `\x1b]0;pwned\a`,
		"a\rb\nc\td":            `a\rb\nc\td`,
		"\x1b[2J\x7f":           `\x1b[2J\x7f`,
		"csi\u009b31m":          `csi\u009b31m`,
		"evil\u202egpj.exe":     `evil\u202egpj.exe`,
		"bad \xff\xfe utf-8":    `bad \xff\xfe utf-8`,
		"sep\u2028line":         `sep\u2028line`,
		"replacement \ufffd ok": "replacement \ufffd ok",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if again := Escape(want); again != want {
			t.Errorf("Escape is not idempotent on %q: %q", want, again)
		}
	}
}

func TestEscapeLines(t *testing.T) {
	if got, want := EscapeLines("first\x1b[2J\r\nsecond\r"), `first\x1b[2J`+"\n"+`second\r`; got != want {
		t.Errorf("EscapeLines = %q, want %q", got, want)
	}
}

// FuzzEscape checks that escaped text holds no character a terminal
// acts on, that escaping again changes nothing, and that text without
// such characters is left alone.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "Google Inc.", "\x1b]0;t\x07", "a\rb", "\u202e", "\xff\xfe", "\\x1b", "é\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if strings.ContainsFunc(out, NeedsEscape) || !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q holds control characters or invalid UTF-8", s, out)
		}
		if again := Escape(out); again != out {
			t.Fatalf("Escape(%q) = %q, again %q", s, out, again)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, NeedsEscape) && out != s {
			t.Fatalf("Escape(%q) = %q changed harmless text", s, out)
		}
	})
}

type mode string

type stringer struct{}

func (stringer) String() string { return "\x1b[2J" }

func TestEscapeArgs(t *testing.T) {
	got := fmt.Sprintf("%s %s %v %s %d %q", EscapeArgs([]any{"a\x1b]0;t\a", mode("m\r"), errors.New("e\u202e"), stringer{}, 7, "ok"})...)
	want := `a\x1b]0;t\a m\r e\u202e \x1b[2J 7 "ok"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
