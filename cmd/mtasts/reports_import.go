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
)

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
	res := ingest.NewImportSummary()
	w := &textout.Writer{W: e.stdout}
	err = in.Import(ctx, paths, opts, func(r ingest.FileResult) {
		f := res.Add(r)
		if rf.asJSON {
			return
		}
		if bar != nil && writerIsTerminal(e.stdout) {
			_ = bar.Clear()
		}
		w.Textf("%s\n", f)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if !rf.asJSON {
			_ = res.WriteTotals(e.stdout, true)
		}
		return &exitError{code: exitCannotRun, err: fmt.Errorf("import interrupted: %w", err)}
	}
	switch {
	case rf.asJSON:
		err = textout.WriteJSON(e.stdout, res)
	case w.Err != nil:
		err = w.Err
	default:
		err = res.WriteTotals(e.stdout, false)
	}
	if err != nil {
		return err
	}
	if !res.Clean() {
		return exitWith(exitErrors)
	}
	return nil
}
