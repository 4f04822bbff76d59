package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/reportstore"
)

// reportsFlags are the flags every reports command shares.
type reportsFlags struct {
	db      string
	dataDir string
	asJSON  bool
}

func newReportsCmd(e *env) *cobra.Command {
	f := &reportsFlags{}
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "Import, list and summarise TLS reports (RFC 8460)",
		Long: `Commands for the aggregate TLS reports (RFC 8460) that sending MTAs mail or
POST to the rua= address of a domain's _smtp._tls record.

Reports are kept in a store: by default the SQLite file reports.db in the
data directory, which is --data-dir, else /var/lib/mtasts when the user
may write there (root, or its group), else $XDG_STATE_HOME/mtasts (or
~/.local/state/mtasts), said on standard error; a store kept in
~/.local/share/mtasts by earlier versions is used where it is. --db names
another store by URL: sqlite:///path/file.db or postgres://user@host/db.
The data directory is created if needed; the directory of a --db file must
exist. A new SQLite store is readable by its owner only (mode 0600).

A report counts for the UTC day its date range starts in. The same report
arriving twice (same organisation, report-id and date range) is stored once.
Input that is not a report is kept in a quarantine with the reason; so is a
report that counts more than 10^12 sessions for one policy (no sender
makes that many in a day). "mtasts reports delete" removes a stored report.`,
		Example: `  mtasts reports import ~/Maildir/.TLSRPT reports/*.json.gz
  mtasts reports summary --domain example.com --since 7d
  mtasts reports list --failures
  mtasts reports show 42
  mtasts reports delete 42
  mtasts reports export --format csv --since 2026-11-01 > reports.csv
  mtasts reports list --db postgres://mtasts@db.example.com/mtasts`,
	}
	f.register(cmd)
	cmd.AddCommand(
		newReportsImportCmd(e, f),
		newReportsListCmd(e, f),
		newReportsShowCmd(e, f),
		newReportsSummaryCmd(e, f),
		newReportsExportCmd(e, f),
		newReportsQuarantineCmd(e, f),
		newReportsDeleteCmd(e, f),
	)
	return cmd
}

// register adds the store flags and --json to cmd and its subcommands.
func (f *reportsFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.db, "db", "", "report store URL: sqlite:///path/file.db or postgres://… (default: reports.db in the data directory)")
	pf.StringVar(&f.dataDir, "data-dir", "", "data directory (default: /var/lib/mtasts if writable, else $XDG_STATE_HOME/mtasts or ~/.local/state/mtasts)")
	pf.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

// open opens the store; failing to is exit status 3.
func (f *reportsFlags) open(ctx context.Context, e *env) (*reportstore.Store, error) {
	url, note, err := reportstore.LocalURL(f.db, f.dataDir, statedir.System, e.getenv)
	if err != nil {
		return nil, &exitError{code: exitCannotRun, err: err}
	}
	if note != "" {
		fmt.Fprintf(e.stderr, "mtasts reports: %s\n", note)
	}
	s, err := reportstore.Open(ctx, url, reportstore.Options{Now: e.now})
	if err != nil {
		return nil, &exitError{code: exitCannotRun, err: err}
	}
	return s, nil
}

// periodFlags select reports by domain, organisation and day.
type periodFlags struct {
	domain, org, since, until string
}

func (p *periodFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&p.domain, "domain", "", "only this policy domain")
	fl.StringVar(&p.org, "org", "", "only reports of this sending organisation (organization-name)")
	fl.StringVar(&p.since, "since", "", "only days from this one: YYYY-MM-DD, or an age such as 7d, 2w, 36h")
	fl.StringVar(&p.until, "until", "", "only days before this one: YYYY-MM-DD, or an age such as 1d")
}

// filter builds the store filter; bad dates are usage errors.
func (p *periodFlags) filter(now time.Time) (reportstore.Filter, error) {
	f := reportstore.Filter{Domain: p.domain, Organization: p.org}
	var err error
	if f.Since, err = reportstore.ParseSince(p.since, now); err != nil {
		return f, usageError(fmt.Errorf("--since: %w", err))
	}
	if f.Until, err = reportstore.ParseSince(p.until, now); err != nil {
		return f, usageError(fmt.Errorf("--until: %w", err))
	}
	return f, nil
}

// storeError is err from the report store with its exit status: 2 when
// what was asked for is not there, else 3.
func storeError(err error) error {
	if errors.Is(err, reportstore.ErrNotFound) {
		return &exitError{code: exitErrors, err: err}
	}
	return &exitError{code: exitCannotRun, err: err}
}
