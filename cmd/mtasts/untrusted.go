package main

import "github.com/mtasts/mtasts/internal/untrusted"

// Text that others wrote reaches people's terminals: human-facing output
// escapes it with untrusted.Escape, through textf and writeRaw.

// textf is printf for output that holds text others wrote: the arguments
// are escaped with untrusted.EscapeArgs, the format is not.
func (w *errWriter) textf(format string, args ...any) {
	w.printf(format, untrusted.EscapeArgs(args)...)
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
