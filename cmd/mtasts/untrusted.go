package main

import "github.com/mtasts/mtasts/internal/untrusted"

// Text that others wrote reaches people's terminals: human-facing output
// escapes it with untrusted.Escape, through textout.Writer.Textf and writeRaw.

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
