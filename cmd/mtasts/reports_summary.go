package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/reportstore"
)

// summaryBreakdowns are the failure breakdowns summary prints, with their
// headings.
var summaryBreakdowns = []struct {
	by    reportstore.Breakdown
	title string
}{
	{reportstore.ByResultType, "result type"},
	{reportstore.ByOrganization, "sending organisation"},
	{reportstore.ByMXHost, "MX host"},
	{reportstore.ByReceivingIP, "receiving IP"},
}

// summaryTop is how many groups of each breakdown summary prints.
const summaryTop = 10

// daySummaryJSON is one day in the JSON output of summary.
type daySummaryJSON struct {
	reportstore.DaySummary
	Sessions    int64   `json:"sessions"`
	SuccessRate float64 `json:"success_rate"`
}

// domainSummaryJSON is one domain in the JSON output of summary.
type domainSummaryJSON struct {
	reportstore.DomainOverview
	Days        []daySummaryJSON                                     `json:"days"`
	Sessions    int64                                                `json:"sessions"`
	SuccessRate float64                                              `json:"success_rate"`
	Failures    map[reportstore.Breakdown][]reportstore.FailureCount `json:"failures"`
}

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
	domains, err := store.Domains(ctx, f)
	if err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	out := []domainSummaryJSON{}
	for _, d := range domains {
		s := domainSummaryJSON{DomainOverview: d, Sessions: d.Sessions(), SuccessRate: d.SuccessRate(),
			Failures: map[reportstore.Breakdown][]reportstore.FailureCount{}}
		for _, day := range d.Days {
			s.Days = append(s.Days, daySummaryJSON{DaySummary: day, Sessions: day.Sessions(), SuccessRate: day.SuccessRate()})
		}
		df := f
		df.Domain = d.Domain
		for _, b := range summaryBreakdowns {
			counts, err := store.Failures(ctx, df, b.by, summaryTop)
			if err != nil {
				return &exitError{code: exitCannotRun, err: err}
			}
			s.Failures[b.by] = counts
		}
		out = append(out, s)
	}
	if rf.asJSON {
		return textout.WriteJSON(e.stdout, map[string]any{"domains": out})
	}
	w := &textout.Writer{W: e.stdout}
	if len(out) == 0 {
		w.Textf("no reports%s\n", outsideFilter(ctx, store, f))
	}
	for i, d := range out {
		if i > 0 {
			w.Textf("\n")
		}
		mode := string(d.PolicyType)
		if d.Mode != "" {
			mode += " " + d.Mode
		}
		w.Textf("%s: %s, %s successful, %s from %s, policy %s\n",
			d.Domain, textout.Plural(d.Sessions, "session"), percent(d.SuccessRate), textout.Plural(d.Reports, "report"), textout.Plural(d.Organizations, "organisation"), mode)
		w.Textf("  %-10s  %10s  %10s  %8s\n", "DAY", "SESSIONS", "FAILED", "SUCCESS")
		for _, day := range d.Days {
			w.Textf("  %-10s  %10d  %10d  %8s\n", day.Day, day.Sessions, day.Failed, percent(day.SuccessRate))
		}
		if d.Failed == 0 {
			continue
		}
		for _, b := range summaryBreakdowns {
			w.Textf("  failures by %s:\n", b.title)
			for _, c := range d.Failures[b.by] {
				w.Textf("    %10d  %s\n", c.Failed, orDash(strings.TrimSpace(c.Key)))
			}
		}
	}
	return w.Err
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
