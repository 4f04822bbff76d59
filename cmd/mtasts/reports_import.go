package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// importFileJSON is one input in the JSON output of reports import.
type importFileJSON struct {
	Path        string              `json:"path"`
	Outcome     string              `json:"outcome"` // accepted, duplicate, quarantined, error
	ID          int64               `json:"id,omitempty"`
	Reason      string              `json:"reason,omitempty"`
	DKIM        string              `json:"dkim,omitempty"`
	Diagnostics []tlsrpt.Diagnostic `json:"diagnostics,omitempty"`
}

// importJSON is the JSON output of reports import.
type importJSON struct {
	Files       []importFileJSON `json:"files"`
	Accepted    int              `json:"accepted"`
	Duplicates  int              `json:"duplicates"`
	Quarantined int              `json:"quarantined"`
	Errors      int              `json:"errors"`
}

func newReportsImportCmd(e *env, rf *reportsFlags) *cobra.Command {
	var dkimPolicy, resolver string
	var batch int
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Store the reports of files, mbox files and Maildir folders",
		Long: `Store the TLS reports held in files: reports as .json or .json.gz (RFC 8460
§5.1 file names or any other), single mails (.eml), mbox files and Maildir
folders (new and cur). Directories are read recursively. Files are
recognised by their content, not their name.

For each input one line says whether it was accepted, was a duplicate of a
stored report, or was quarantined and why (it is then kept in the store's
quarantine). A progress bar is shown on a terminal.

DKIM signatures of report mail (RFC 8460 §5.3) are checked with DNS and
recorded (--dkim check); --dkim require quarantines mail without a valid
signature of the submitting domain, --dkim off skips the check (old
archives whose keys are gone).

SIGINT and SIGTERM stop the import at once, even while it waits on a named
pipe; what was stored before stays stored.

Exit status: 0 every input was stored as a report (or a duplicate), 2 some
input was quarantined or could not be stored (all others were stored), 3 the
store could not be opened or the import was interrupted.`,
		Example: `  mtasts reports import ~/Maildir/.TLSRPT
  mtasts reports import --dkim off archive.mbox 'google.com!example.com!1795132800!1795219199!001.json.gz'
  mtasts reports import --json --db postgres://mtasts@db/mtasts reports/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := ingest.ParseDKIMPolicy(dkimPolicy)
			if err != nil {
				return usageError(err)
			}
			return runReportsImport(cmd.Context(), e, rf, args, policy, resolver, batch)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dkimPolicy, "dkim", "check", "DKIM check of report mail: check (record the result), require, or off")
	fl.StringVar(&resolver, "resolver", "", "DNS server for DKIM keys, as HOST or HOST:PORT (default: the servers in /etc/resolv.conf)")
	fl.IntVar(&batch, "batch", ingest.DefaultBatchSize, "inputs stored per transaction")
	return cmd
}

func runReportsImport(ctx context.Context, e *env, rf *reportsFlags, paths []string, policy ingest.DKIMPolicy, resolver string, batch int) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := ingest.Config{Store: store, DKIM: policy, Now: e.now}
	if policy != ingest.DKIMOff {
		dns, err := dnsx.NewFromAddr(resolver)
		if err != nil {
			return &exitError{code: exitCannotRun, err: fmt.Errorf("DNS resolver: %w", err)}
		}
		cfg.LookupTXT = dns.LookupTXT
	}
	in, err := ingest.New(cfg)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(ingest.ImportGCPercent))
	var bar *progressbar.ProgressBar
	opts := ingest.ImportOptions{BatchSize: batch}
	if !rf.asJSON && writerIsTerminal(e.stderr) {
		bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("files"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		opts.Progress = func(done, total int) {
			bar.ChangeMax(total)
			_ = bar.Set(done)
		}
	}
	res := importJSON{Files: []importFileJSON{}}
	w := &textout.Writer{W: e.stdout}
	err = in.Import(ctx, paths, opts, func(r ingest.FileResult) {
		f := importFile(r)
		res.Files = append(res.Files, f)
		switch f.Outcome {
		case string(reportstore.Accepted):
			res.Accepted++
		case string(reportstore.Duplicate):
			res.Duplicates++
		case string(reportstore.Quarantined):
			res.Quarantined++
		default:
			res.Errors++
		}
		if rf.asJSON {
			return
		}
		if bar != nil && writerIsTerminal(e.stdout) {
			_ = bar.Clear()
		}
		w.Textf("%s\n", importLine(f))
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if !rf.asJSON {
			w.Textf("%d accepted, %d duplicates, %d quarantined, %d not stored before the import was interrupted\n",
				res.Accepted, res.Duplicates, res.Quarantined, res.Errors)
		}
		return &exitError{code: exitCannotRun, err: fmt.Errorf("import interrupted: %w", err)}
	}
	if rf.asJSON {
		if err := textout.WriteJSON(e.stdout, res); err != nil {
			return err
		}
	} else {
		w.Textf("%d accepted, %d duplicates, %d quarantined, %d not stored\n", res.Accepted, res.Duplicates, res.Quarantined, res.Errors)
		if w.Err != nil {
			return w.Err
		}
	}
	if res.Quarantined+res.Errors > 0 {
		return exitWith(exitErrors)
	}
	return nil
}

func importFile(r ingest.FileResult) importFileJSON {
	f := importFileJSON{Path: r.Path}
	if r.Err != nil {
		f.Outcome, f.Reason = "error", r.Err.Error()
		return f
	}
	f.Outcome, f.ID, f.Reason, f.Diagnostics = string(r.Outcome.Outcome), r.ID, r.Reason, r.Diagnostics
	if r.Mail != nil {
		f.DKIM = string(r.Mail.DKIM)
	}
	return f
}

// importLine is the text line of one input.
func importLine(f importFileJSON) string {
	switch f.Outcome {
	case string(reportstore.Accepted):
		extra := ""
		if f.DKIM != "" {
			extra = ", DKIM " + f.DKIM
		}
		if n := len(f.Diagnostics); n > 0 {
			extra += ", " + textout.Plural(n, "deviation") + " tolerated"
		}
		return fmt.Sprintf("accepted     %s (report %d%s)", f.Path, f.ID, extra)
	case string(reportstore.Duplicate):
		return fmt.Sprintf("duplicate    %s (of report %d)", f.Path, f.ID)
	case string(reportstore.Quarantined):
		return fmt.Sprintf("quarantined  %s: %s (quarantine %d)", f.Path, f.Reason, f.ID)
	}
	return fmt.Sprintf("not stored   %s: %s", f.Path, f.Reason)
}
