package check

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"strings"
)

// maxListLine caps one line of a domain list.
const maxListLine = 4096

// List reads a list of domains for CheckAll, one at a time, so that a
// list of any length takes no memory: one domain a line, with
// surrounding space and text after "#" removed, blank lines skipped, and
// of a "rank,domain" line (as in top-site lists) the last comma-separated
// field.
type List struct {
	r     io.Reader
	name  string
	err   error
	lines int
}

// NewList returns the list read from r; name names it in errors.
func NewList(r io.Reader, name string) *List {
	return &List{r: r, name: name}
}

// Name returns the name of the list.
func (l *List) Name() string { return l.name }

// All yields the domains of the list in order, until the end of the
// list or a read error (see Err).
func (l *List) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(l.r)
		sc.Buffer(make([]byte, 0, 512), maxListLine)
		for sc.Scan() {
			l.lines++
			if dom := listEntry(sc.Text()); dom != "" && !yield(dom) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			l.err = fmt.Errorf("reading %s, line %d: %w", l.name, l.lines+1, err)
		}
	}
}

// Err returns the error that ended All early, if any.
func (l *List) Err() error { return l.err }

// listEntry extracts the domain of one line of a list, or "".
func listEntry(line string) string {
	line, _, _ = strings.Cut(line, "#")
	if i := strings.LastIndexByte(line, ','); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimSpace(line)
}
