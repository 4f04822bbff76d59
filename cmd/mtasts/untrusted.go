package main

import (
	"fmt"
	"reflect"

	"github.com/mtasts/mtasts/internal/untrusted"
)

// Text that others wrote reaches people's terminals: human-facing output
// escapes it with untrusted.Escape, through textf and writeRaw.

// escapeArgs escapes the text among args for a format string: strings and
// types of string kind, errors and fmt.Stringers. Numbers are left alone.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case error:
			out[i] = untrusted.Escape(v.Error())
		case fmt.Stringer:
			out[i] = untrusted.Escape(v.String())
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				out[i] = untrusted.Escape(rv.String())
			} else {
				out[i] = a
			}
		}
	}
	return out
}

// textf is printf for output that holds text others wrote: the arguments
// are escaped with untrusted.Escape, the format is not.
func (w *errWriter) textf(format string, args ...any) {
	w.printf(format, escapeArgs(args)...)
}

// writeRaw writes input as received to standard output: byte for byte
// into a file or a pipe, with untrusted.EscapeLines on a terminal, where
// its bytes would otherwise act.
func writeRaw(e *env, data []byte) error {
	if writerIsTerminal(e.stdout) {
		data = []byte(untrusted.EscapeLines(string(data)))
	}
	_, err := e.stdout.Write(data)
	return err
}
