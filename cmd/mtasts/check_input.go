package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// maxListLine caps one line of a domain list.
const maxListLine = 4096

// domainReader reads a list of domains for bulk checks, one at a time, so
// that a list of any length takes no memory.
type domainReader struct {
	r     io.Reader
	c     io.Closer // nil for standard input
	name  string
	err   error // the first read error, once all is called
	lines int
}

// openDomains opens the list name, "-" being standard input, which is
// read until ctx ends.
func openDomains(ctx context.Context, e *env, name string) (*domainReader, error) {
	if name == "-" {
		return &domainReader{r: e.stdinUntil(ctx), name: "standard input"}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("domain list: %w", err)
	}
	return &domainReader{r: f, c: f, name: name}, nil
}

func (d *domainReader) close() {
	if d.c != nil {
		d.c.Close()
	}
}

// all yields the domains of the list in order: each line with
// surrounding space and "#" comments removed, the last comma-separated
// field of a "rank,domain" line, blank lines skipped.
func (d *domainReader) all() iter.Seq[string] {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(d.r)
		sc.Buffer(make([]byte, 0, 512), maxListLine)
		for sc.Scan() {
			d.lines++
			if dom := listEntry(sc.Text()); dom != "" && !yield(dom) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			d.err = fmt.Errorf("reading %s, line %d: %w", d.name, d.lines+1, err)
		}
	}
}

// listEntry extracts the domain of one line of a list, or "".
func listEntry(line string) string {
	line, _, _ = strings.Cut(line, "#")
	if i := strings.LastIndexByte(line, ','); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimSpace(line)
}

// countDomains counts the entries of the list file name for the progress
// bar, or returns -1 for standard input or an unreadable file.
func countDomains(name string) int64 {
	if name == "-" {
		return -1
	}
	f, err := os.Open(name)
	if err != nil {
		return -1
	}
	defer f.Close()
	d := &domainReader{r: f, name: name}
	var n int64
	for range d.all() {
		n++
	}
	return n
}

// bulkProgress is the progress bar of a bulk check on standard error. A nil
// *bulkProgress draws nothing.
type bulkProgress struct {
	bar *progressbar.ProgressBar
	// The first second's results are held back, so that the rate shown
	// is never that of the first few domains over a few microseconds.
	start   time.Time
	pending int
	// clearEach clears the bar before each result is written, for when
	// standard output is the same terminal.
	clearEach bool
}

// newBulkProgress draws a bar for the list file (its size known, with an
// ETA) or a counter for standard input.
func newBulkProgress(w io.Writer, file string, clearEach bool) *bulkProgress {
	bar := progressbar.NewOptions64(countDomains(file),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("checking"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("domains"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &bulkProgress{bar: bar, clearEach: clearEach, start: time.Now()}
}

func (p *bulkProgress) add() {
	if p == nil {
		return
	}
	p.pending++
	if time.Since(p.start) >= time.Second {
		_ = p.bar.Add(p.pending)
		p.pending = 0
	}
}

func (p *bulkProgress) clear() {
	if p != nil && p.clearEach {
		_ = p.bar.Clear()
	}
}

func (p *bulkProgress) close() {
	if p != nil {
		_ = p.bar.Add(p.pending)
		_ = p.bar.Finish()
		_ = p.bar.Close()
	}
}
