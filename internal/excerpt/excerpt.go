// Package excerpt quotes bad input in messages for people: briefly, so
// that a 10 MiB line is not echoed whole, and escaped, so that control
// characters in it never reach a terminal.
package excerpt

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of input Quote keeps.
const Max = 40

// Quote returns s as a Go string literal (strconv.Quote: control
// characters, invalid UTF-8 and non-printable runes escaped). Input longer
// than Max bytes is cut at a rune boundary and followed by an ellipsis and
// its length, such as "xxxx"… (10485760 bytes).
func Quote(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	cut := Max
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
