package check

import (
	"io"
	"sync/atomic"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/internal/untrusted"
)

// Output formats of a Printer.
const (
	FormatText  = "text"  // the report for people (Result.WriteText)
	FormatJSON  = "json"  // one indented JSON object per domain
	FormatJSONL = "jsonl" // one JSON object per domain per line
)

// PrintOptions say how a Printer writes results.
type PrintOptions struct {
	// Format is FormatText (the default), FormatJSON or FormatJSONL.
	Format string
	// Text are the options of the text format.
	Text TextOptions
	// Bulk adds the summary table at the end (Printer.Close).
	Bulk bool
	// Out receives the results; Err the domains that could not be
	// checked in text format, the summary of the JSON formats, so that
	// Out stays pure JSON, and the notice that checks slowed down.
	Out, Err io.Writer
	// Concurrency is the number of domains checked at once asked for,
	// for the notice of Slowed.
	Concurrency int
}

// Printer writes the results of CheckAll as they come, and counts them.
type Printer struct {
	o       PrintOptions
	n       int
	summary *Summary
	// Status is the worst verdict so far: StatusOK, StatusWarning or
	// StatusError.
	Status string
	// Checked and NotChecked count the domains checked and those that
	// could not be.
	Checked, NotChecked int

	// slowest is the lowest concurrency CheckAll went down to; said the
	// lowest one the notice told.
	slowest atomic.Int64
	said    int64
}

// NewPrinter returns a Printer with options o.
func NewPrinter(o PrintOptions) *Printer {
	p := &Printer{o: o, summary: NewSummary(), Status: StatusOK, said: int64(o.Concurrency)}
	p.slowest.Store(int64(o.Concurrency))
	return p
}

// Slowed records that CheckAll now checks n domains at once, as
// BulkOptions.OnConcurrency reports; the next Print says so on Err when n
// is lower than ever before. It may be called from any goroutine.
func (p *Printer) Slowed(n int) {
	for {
		cur := p.slowest.Load()
		if int64(n) >= cur || p.slowest.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// errorView is the JSON form of a domain that could not be checked.
type errorView struct {
	Domain string `json:"domain"`
	Error  string `json:"error"`
}

// Print writes one result; it fits CheckAll's callback.
func (p *Printer) Print(it Item) error {
	if n := p.slowest.Load(); n < p.said {
		p.said = n
		t := &textout.Writer{W: p.o.Err}
		t.Printf("mtasts check: the DNS resolver does not answer in time: now checking %d domains at once (lower --concurrency, or use a --resolver that keeps up)\n", n)
		if t.Err != nil {
			return t.Err
		}
	}
	p.summary.Add(it)
	if it.Err != nil {
		p.NotChecked++
		if p.o.Format != FormatText && p.o.Format != "" {
			return p.writeJSON(errorView{Domain: it.Domain, Error: it.Err.Error()})
		}
		t := &textout.Writer{W: p.o.Err}
		t.Printf("mtasts: %s not checked: %s\n", untrusted.Quote(it.Domain), untrusted.Escape(it.Err.Error()))
		return t.Err
	}
	p.Checked++
	switch it.Result.Verdict.Status {
	case StatusError:
		p.Status = StatusError
	case StatusWarning:
		if p.Status == StatusOK {
			p.Status = StatusWarning
		}
	}
	if p.o.Format != FormatText && p.o.Format != "" {
		return p.writeJSON(it.Result)
	}
	if p.n++; p.n > 1 {
		if _, err := io.WriteString(p.o.Out, "\n"); err != nil {
			return err
		}
	}
	return it.Result.WriteText(p.o.Out, p.o.Text)
}

// writeJSON writes v in the JSON format chosen.
func (p *Printer) writeJSON(v any) error {
	if p.o.Format == FormatJSONL {
		return textout.WriteJSONLine(p.o.Out, v)
	}
	return textout.WriteJSON(p.o.Out, v)
}

// Close writes the summary table of a bulk run: after the reports, or on
// Err when the output is JSON.
func (p *Printer) Close() error {
	if !p.o.Bulk {
		return nil
	}
	w := p.o.Out
	if p.o.Format != FormatText && p.o.Format != "" {
		w = p.o.Err
	} else if p.n > 0 {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return p.summary.WriteText(w)
}
