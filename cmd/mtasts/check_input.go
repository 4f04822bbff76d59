package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mtasts/mtasts/check"
)

// domainList is a list of domains for bulk checks, from a file or
// standard input.
type domainList struct {
	*check.List
	c io.Closer // nil for standard input
}

// openDomains opens the list name, "-" being standard input, which is
// read until ctx ends.
func openDomains(ctx context.Context, e *env, name string) (*domainList, error) {
	if name == "-" {
		return &domainList{List: check.NewList(e.stdinUntil(ctx), "standard input")}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("domain list: %w", err)
	}
	return &domainList{List: check.NewList(f, name), c: f}, nil
}

func (d *domainList) close() {
	if d.c != nil {
		d.c.Close()
	}
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
	var n int64
	for range check.NewList(f, name).All() {
		n++
	}
	return n
}

// bulkProgress is the progress bar of a bulk check on standard error. A nil
// *bulkProgress draws nothing.
type bulkProgress struct {
	bar *progressbar.ProgressBar
	// clearEach clears the bar before each result is written, for when
	// standard output is the same terminal.
	clearEach bool
	// The rate is drawn by us, once rateAfter has passed since start: the
	// first results (cached, or refused at once) come in microseconds and
	// would show an absurd rate.
	now   func() time.Time
	start time.Time
	done  int
}

// rateAfter is how long the progress bar waits before it shows a rate.
const rateAfter = 2 * time.Second

// newBulkProgress draws a bar for the list file (its size known, with an
// ETA) or a counter for standard input.
func newBulkProgress(w io.Writer, file string, clearEach bool, now func() time.Time) *bulkProgress {
	bar := progressbar.NewOptions64(countDomains(file),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("checking"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &bulkProgress{bar: bar, clearEach: clearEach, now: now, start: now()}
}

func (p *bulkProgress) add() {
	if p == nil {
		return
	}
	p.done++
	if elapsed := p.now().Sub(p.start); elapsed >= rateAfter {
		p.bar.Describe(fmt.Sprintf("checking, %.1f domains/s", float64(p.done)/elapsed.Seconds()))
	}
	_ = p.bar.Add(1)
}

func (p *bulkProgress) clear() {
	if p != nil && p.clearEach {
		_ = p.bar.Clear()
	}
}

func (p *bulkProgress) close() {
	if p != nil {
		_ = p.bar.Finish()
		_ = p.bar.Close()
	}
}
