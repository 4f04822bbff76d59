package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/reportstore"
)

func newReportsListCmd(e *env, rf *reportsFlags) *cobra.Command {
	var p periodFlags
	var o reportstore.ListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stored reports, latest day first",
		Long: `List the stored reports, the latest day first: ID, day, sending
organisation, policy domains, sessions, success rate and DKIM result of
report mail. Use "mtasts reports show ID" for one report.`,
		Example: `  mtasts reports list --domain example.com --since 30d
  mtasts reports list --failures --limit 20
  mtasts reports list --json --offset 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := p.filter(e.now())
			if err != nil {
				return err
			}
			o.Filter = f
			return runReportsList(cmd.Context(), e, rf, o)
		},
	}
	p.register(cmd)
	cmd.Flags().BoolVar(&o.FailuresOnly, "failures", false, "only reports that count failed sessions")
	cmd.Flags().IntVar(&o.Limit, "limit", reportstore.DefaultLimit, fmt.Sprintf("reports per page, at most %d", reportstore.MaxLimit))
	cmd.Flags().IntVar(&o.Offset, "offset", 0, "skip this many reports")
	return cmd
}

func runReportsList(ctx context.Context, e *env, rf *reportsFlags, o reportstore.ListOptions) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	page, err := store.ListReports(ctx, o)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return output(e, rf.asJSON, page)
}

func parseID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError(fmt.Errorf("%q is not a report ID", arg))
	}
	return id, nil
}

func newReportsShowCmd(e *env, rf *reportsFlags) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one stored report in full",
		Long: `Show a stored report: where and how it arrived, each policy with its session
counts and failure details, and the deviations from RFC 8460 the parser
tolerated. --raw writes the input exactly as it was received (the JSON, the
gzip or the whole mail) instead; on a terminal, with control characters
escaped.

Exit status: 0 shown, 2 no report has this ID, 3 the store could not be read.`,
		Example: `  mtasts reports show 42
  mtasts reports show --raw 42 > report.eml
  mtasts reports show --json 42`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return runReportsShow(cmd.Context(), e, rf, id, raw)
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "write the report exactly as received")
	return cmd
}

func runReportsShow(ctx context.Context, e *env, rf *reportsFlags, id int64, raw bool) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := store.GetReport(ctx, id)
	if err != nil {
		return storeError(err)
	}
	if raw {
		return writeRaw(e, r.Raw)
	}
	return output(e, rf.asJSON, r)
}

func newReportsQuarantineCmd(e *env, rf *reportsFlags) *cobra.Command {
	var o reportstore.QuarantineOptions
	var rawID int64
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List the input that could not be stored as a report",
		Long: `List the quarantine: input that arrived but could not be read as a TLS
report, with the reason, latest first. --raw ID writes one entry's bytes
(on a terminal, with control characters escaped).`,
		Example: `  mtasts reports quarantine
  mtasts reports quarantine --raw 3 > broken.eml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportsQuarantine(cmd.Context(), e, rf, o, rawID)
		},
	}
	cmd.Flags().IntVar(&o.Limit, "limit", reportstore.DefaultLimit, "entries per page")
	cmd.Flags().IntVar(&o.Offset, "offset", 0, "skip this many entries")
	cmd.Flags().Int64Var(&rawID, "raw", 0, "write the bytes of the entry with this ID")
	return cmd
}

func runReportsQuarantine(ctx context.Context, e *env, rf *reportsFlags, o reportstore.QuarantineOptions, rawID int64) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	if rawID > 0 {
		q, err := store.GetQuarantined(ctx, rawID)
		if err != nil {
			return storeError(err)
		}
		return writeRaw(e, q.Raw)
	}
	page, err := store.ListQuarantine(ctx, o)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return output(e, rf.asJSON, page)
}
