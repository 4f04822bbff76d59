package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
)

// summaryTop is how many groups of each breakdown summary prints.
const summaryTop = 10

// domainSummaryJSON is one domain in the JSON output of summary.
type domainSummaryJSON = reportstore.DomainSummary

func newReportsSummaryCmd(e *env, rf *reportsFlags) *cobra.Command {
	var p periodFlags
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Sessions and success rate per domain and day, and where failures come from",
		Long: `Summarise the stored reports per policy domain: for each UTC day the
sessions counted and the share that succeeded, then the failed sessions
broken down by result type (RFC 8460 §4.3), sending organisation, MX host
and receiving IP (the ten largest of each).`,
		Example: `  mtasts reports summary --since 7d
  mtasts reports summary --domain example.com --since 2026-11-01
  mtasts reports summary --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := p.filter(e.now())
			if err != nil {
				return err
			}
			return runReportsSummary(cmd.Context(), e, rf, f)
		},
	}
	p.register(cmd)
	return cmd
}

func runReportsSummary(ctx context.Context, e *env, rf *reportsFlags, f reportstore.Filter) error {
	store, err := rf.open(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	out, err := store.Summary(ctx, f, summaryTop)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	if rf.asJSON {
		return textout.WriteJSON(e.stdout, map[string]any{"domains": out})
	}
	none := ""
	if len(out) == 0 {
		none = outsideFilter(ctx, store, f)
	}
	return reportstore.WriteSummaryText(e.stdout, out, none)
}

// outsideFilter says, when f selects nothing, what the store holds
// outside it: ", but 12 reports are stored, days 2026-11-01 to 2026-11-20
// (widen --since)", or "" when the store is empty too or f selects all.
func outsideFilter(ctx context.Context, store *reportstore.Store, f reportstore.Filter) string {
	if f == (reportstore.Filter{}) {
		return ""
	}
	page, err := store.ListReports(ctx, reportstore.ListOptions{Limit: 1})
	if err != nil || page.Total == 0 {
		return ""
	}
	all, err := store.Domains(ctx, reportstore.Filter{})
	if err != nil {
		return ""
	}
	first, last := "", ""
	for _, d := range all {
		for _, day := range d.Days {
			if first == "" || day.Day < first {
				first = day.Day
			}
			if day.Day > last {
				last = day.Day
			}
		}
	}
	return fmt.Sprintf(" selected, but the store holds %s (days %s to %s): widen --since, --until, --domain or --organization", textout.Plural(page.Total, "report"), first, last)
}
