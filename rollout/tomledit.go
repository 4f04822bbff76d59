package rollout

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/mtasts/mtasts/sts"
)

var (
	// domainHeader is the header of a [[domain]] table; anyHeader that
	// of any table, which ends the one before.
	domainHeader = regexp.MustCompile(`^\s*\[\[\s*domain\s*\]\]`)
	anyHeader    = regexp.MustCompile(`^\s*\[`)
	// modeLine is a mode key with a one-line quoted value and what
	// follows it (spaces, a comment), which is kept.
	modeLine = regexp.MustCompile(`^(\s*mode\s*=\s*)("[^"\\]*"|'[^']*')(\s*(?:#.*)?)$`)
)

// rewriteMode returns the configuration file data with the mode key of
// its index-th [[domain]] table (from 0) set to mode, every other byte
// unchanged. It fails when the table or a mode line it can rewrite is
// not there (a layout other than "mode = \"...\"" on one line); the
// caller checks that the result reads back as intended.
func rewriteMode(data []byte, index int, mode sts.Mode) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	table, in := -1, false
	for i, line := range lines {
		if domainHeader.Match(line) {
			table++
			in = table == index
			continue
		}
		if anyHeader.Match(line) {
			if in {
				break // the table ended without a mode line
			}
			continue
		}
		if !in {
			continue
		}
		body, eol := splitEOL(line)
		m := modeLine.FindSubmatch(body)
		if m == nil {
			continue
		}
		var b bytes.Buffer
		b.Write(m[1])
		fmt.Fprintf(&b, "%q", string(mode))
		b.Write(m[3])
		b.Write(eol)
		lines[i] = b.Bytes()
		return bytes.Join(lines, nil), nil
	}
	if table < index {
		return nil, fmt.Errorf("no [[domain]] table number %d", index+1)
	}
	return nil, fmt.Errorf(`[[domain]] table number %d has no line "mode = \"...\"" to rewrite: change the mode by hand`, index+1)
}

// splitEOL splits line into its text and its line ending.
func splitEOL(line []byte) (body, eol []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n], line[n:]
}
