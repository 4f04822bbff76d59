package main

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Text that others wrote (reports from anyone who can POST or mail,
// file names, bad input) reaches people's terminals. Control characters
// in it could move the cursor, rewrite earlier lines, set the window
// title (ESC, OSC, BEL, CR) or reorder what is shown (bidirectional
// overrides), so human-facing output escapes them with escapeText.

// escapeText returns s with every control character (C0, DEL, C1),
// bidirectional formatting character and line or paragraph separator
// written as a Go escape (\x1b, \r, \u202e), and every byte of invalid
// UTF-8 as \xNN. Other text, backslashes included, is unchanged.
func escapeText(s string) string {
	if !strings.ContainsFunc(s, needsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r):
			q := fmt.Sprintf("%+q", r) // such as '\x1b' or '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// escapeLines is escapeText for text of several lines, such as an error
// that joins several or a mail: its line breaks (LF or CRLF) are kept,
// as LF.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i < len(lines)-1 {
			l = strings.TrimSuffix(l, "\r") // CRLF
		}
		lines[i] = escapeText(l)
	}
	return strings.Join(lines, "\n")
}

// writeRaw writes input as received to standard output: byte for byte
// into a file or a pipe, with escapeLines on a terminal, where its bytes
// would otherwise act.
func writeRaw(e *env, data []byte) error {
	if writerIsTerminal(e.stdout) {
		data = []byte(escapeLines(string(data)))
	}
	_, err := e.stdout.Write(data)
	return err
}

// needsEscape reports whether r is escaped by escapeText.
func needsEscape(r rune) bool {
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

// escapeArgs escapes the text among args for a format string: strings and
// types of string kind, errors and fmt.Stringers. Numbers are left alone.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case error:
			out[i] = escapeText(v.Error())
		case fmt.Stringer:
			out[i] = escapeText(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				out[i] = escapeText(rv.String())
			} else {
				out[i] = a
			}
		}
	}
	return out
}

// textf is printf for output that holds text others wrote: the arguments
// are escaped with escapeText, the format is not.
func (w *errWriter) textf(format string, args ...any) {
	w.printf(format, escapeArgs(args)...)
}
