// Package untrusted prepares text that others wrote (reports from anyone
// who can POST or mail one, policies and records from the network, file
// names, bad input) for people's terminals. Control characters in it
// could move the cursor, rewrite earlier lines, set the window title
// (ESC, OSC, BEL, CR) or reorder what is shown (bidirectional overrides):
// Escape writes them as Go escapes, EscapeArgs those among the
// arguments of a format string. Quote quotes bad input in messages
// briefly, so that a 10 MiB line is not echoed whole, and escaped; Byte
// names one bad byte.
package untrusted

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character (C0, DEL, C1),
// bidirectional formatting character and line or paragraph separator
// written as a Go escape (\x1b, \r, \u202e), and every byte of invalid
// UTF-8 as \xNN. Other text, backslashes included, is unchanged, so that
// escaping twice changes nothing more.
func Escape(s string) string {
	if !strings.ContainsFunc(s, NeedsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case NeedsEscape(r):
			q := fmt.Sprintf("%+q", r) // such as '\x1b' or '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeLines is Escape for text of several lines, such as an error that
// joins several or a mail: its line breaks (LF or CRLF) are kept, as LF.
func EscapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i < len(lines)-1 {
			l = strings.TrimSuffix(l, "\r") // CRLF
		}
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n")
}

// NeedsEscape reports whether Escape escapes r.
func NeedsEscape(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

// QuoteMax is how many bytes of input Quote keeps.
const QuoteMax = 40

// Quote returns s as a Go string literal (strconv.Quote: control
// characters, invalid UTF-8 and non-printable runes escaped). Input longer
// than QuoteMax bytes is cut at a rune boundary and followed by an ellipsis and
// its length, such as "xxxx"… (10485760 bytes).
func Quote(s string) string {
	if len(s) <= QuoteMax {
		return strconv.Quote(s)
	}
	cut := QuoteMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// Byte describes the byte at s[i] that a grammar does not allow: a
// character as a quoted rune ('\x1b', 'é' U+00E9), a UTF-8 byte order mark
// as such, and a byte that starts no valid UTF-8 as its value (byte 0xFF).
// It never reads a lone byte of a multi-byte character as Latin-1.
func Byte(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == '\ufeff':
		return "a UTF-8 byte order mark (bytes EF BB BF)"
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf("byte 0x%02X (not UTF-8)", s[i])
	case r >= utf8.RuneSelf:
		return fmt.Sprintf("%q (U+%04X)", r, r)
	}
	return strconv.QuoteRune(r)
}

// EscapeArgs returns the arguments of a format string with the text among
// them escaped with Escape: strings and values of string kind, errors and
// fmt.Stringers. Other values, numbers among them, are left alone.
func EscapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case error:
			out[i] = Escape(v.Error())
		case fmt.Stringer:
			out[i] = Escape(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				out[i] = Escape(rv.String())
			} else {
				out[i] = a
			}
		}
	}
	return out
}
