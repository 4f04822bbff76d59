// Package textout holds the small pieces every text and JSON renderer of
// mtasts shares: a writer that keeps the first error, counts with their
// noun, and JSON output for people and tools.
package textout

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// Writer writes formatted text to W, remembering the first write error in
// Err and writing nothing after it.
type Writer struct {
	W   io.Writer
	Err error
}

// Printf writes like fmt.Fprintf unless an earlier write failed.
func (w *Writer) Printf(format string, args ...any) {
	if w.Err == nil {
		_, w.Err = fmt.Fprintf(w.W, format, args...)
	}
}

// Plural writes a count with its noun: "1 report", "2 reports", "0 reports".
// The plural adds "s", which fits every noun mtasts counts.
func Plural[T ~int | ~int64](n T, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(int64(n), 10) + " " + noun + "s"
}

// WriteJSON writes v as indented JSON, "<", ">" and "&" left as they are:
// the output is for terminals, files and pipes, never HTML.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteJSONLine writes v as JSON on one line (JSON Lines), "<", ">" and "&"
// left as they are.
func WriteJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Textf is Printf for output that holds text others wrote: the arguments
// are escaped with untrusted.EscapeArgs, the format is not.
func (w *Writer) Textf(format string, args ...any) {
	w.Printf(format, untrusted.EscapeArgs(args)...)
}

// OrDash returns s, or "-" for a value left out.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
