package check

import (
	"io"

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
	// checked in text format, and the summary of the JSON formats, so
	// that Out stays pure JSON.
	Out, Err io.Writer
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
}

// NewPrinter returns a Printer with options o.
func NewPrinter(o PrintOptions) *Printer {
	return &Printer{o: o, summary: NewSummary(), Status: StatusOK}
}

// errorView is the JSON form of a domain that could not be checked.
type errorView struct {
	Domain string `json:"domain"`
	Error  string `json:"error"`
}

// Print writes one result; it fits CheckAll's callback.
func (p *Printer) Print(it Item) error {
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
