package ingest

import (
	"fmt"
	"io"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// ImportedFile is what became of one input of an import.
type ImportedFile struct {
	Path        string              `json:"path"`
	Outcome     string              `json:"outcome"` // accepted, duplicate, quarantined, error
	ID          int64               `json:"id,omitempty"`
	Reason      string              `json:"reason,omitempty"`
	DKIM        string              `json:"dkim,omitempty"`
	DKIMReason  string              `json:"dkim_reason,omitempty"`
	Diagnostics []tlsrpt.Diagnostic `json:"diagnostics,omitempty"`
}

// ImportSummary gathers the results of an import for people and scripts.
type ImportSummary struct {
	Files       []ImportedFile `json:"files"`
	Accepted    int            `json:"accepted"`
	Duplicates  int            `json:"duplicates"`
	Quarantined int            `json:"quarantined"`
	Errors      int            `json:"errors"`

	// dkimFailed counts the mails accepted with a DKIM signature that
	// could not be verified.
	dkimFailed int
}

// NewImportSummary returns an empty summary.
func NewImportSummary() *ImportSummary { return &ImportSummary{Files: []ImportedFile{}} }

// Add counts r and returns its file.
func (s *ImportSummary) Add(r FileResult) ImportedFile {
	f := ImportedFile{Path: r.Path, Outcome: "error"}
	if r.Err != nil {
		f.Reason = r.Err.Error()
	} else {
		f.Outcome, f.ID, f.Reason, f.Diagnostics = string(r.Outcome.Outcome), r.ID, r.Reason, r.Diagnostics
		if r.Mail != nil {
			f.DKIM, f.DKIMReason = string(r.Mail.DKIM), r.DKIMReason
		}
	}
	s.Files = append(s.Files, f)
	switch reportstore.Outcome(f.Outcome) {
	case reportstore.Accepted:
		s.Accepted++
	case reportstore.Duplicate:
		s.Duplicates++
	case reportstore.Quarantined:
		s.Quarantined++
	default:
		s.Errors++
	}
	if f.Outcome == string(reportstore.Accepted) && (f.DKIM == string(reportstore.DKIMFail) || f.DKIM == string(reportstore.DKIMTempError)) {
		s.dkimFailed++
	}
	return f
}

// Clean reports whether every input was stored as a report or was a
// duplicate of one.
func (s *ImportSummary) Clean() bool { return s.Quarantined+s.Errors == 0 }

// String returns the line for people about one input, with the reason
// for a DKIM result other than a pass.
func (f ImportedFile) String() string {
	switch reportstore.Outcome(f.Outcome) {
	case reportstore.Accepted:
		extra := ""
		if f.DKIM != "" {
			extra = ", DKIM " + f.DKIM
			if f.DKIMReason != "" {
				extra += ": " + f.DKIMReason
			}
		}
		if n := len(f.Diagnostics); n > 0 {
			extra += ", " + textout.Plural(n, "deviation") + " tolerated"
		}
		return fmt.Sprintf("accepted     %s (report %d%s)", f.Path, f.ID, extra)
	case reportstore.Duplicate:
		return fmt.Sprintf("duplicate    %s (of report %d)", f.Path, f.ID)
	case reportstore.Quarantined:
		return fmt.Sprintf("quarantined  %s: %s (quarantine %d)", f.Path, f.Reason, f.ID)
	}
	return fmt.Sprintf("not stored   %s: %s", f.Path, f.Reason)
}

// WriteTotals writes the counts, after an import that ended or, with
// interrupted, was stopped; and, when mails failed DKIM, how to read
// that.
func (s *ImportSummary) WriteTotals(w io.Writer, interrupted bool) error {
	t := &textout.Writer{W: w}
	end := "not stored"
	if interrupted {
		end = "not stored before the import was interrupted"
	}
	t.Printf("%d accepted, %d duplicates, %d quarantined, %d %s\n", s.Accepted, s.Duplicates, s.Quarantined, s.Errors, end)
	if s.dkimFailed > 0 {
		t.Printf("%s with a DKIM signature that could not be verified: see the reason on each line. Keys of old mail are often gone, and without DNS none can be looked up: --dkim off skips the check, --resolver chooses the DNS server.\n",
			textout.Plural(s.dkimFailed, "mail"))
	}
	return t.Err
}
