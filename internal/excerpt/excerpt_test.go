package excerpt

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                            `""`,
		"mode: enforce":               `"mode: enforce"`,
		"\x1b]0;title\x07":            `"\x1b]0;title\a"`,
		"rlo\u202e":                   `"rlo\u202e"`,
		strings.Repeat("x", 10<<20):   `"` + strings.Repeat("x", Max) + `"… (10485760 bytes)`,
		strings.Repeat("é", 30):       `"` + strings.Repeat("é", Max/2) + `"… (60 bytes)`,
		"a" + strings.Repeat("é", 30): `"a` + strings.Repeat("é", (Max-1)/2) + `"… (61 bytes)`,
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
