package reportstore

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/internal/untrusted"
)

// Text renderings of what the store holds, for people. Reports come from
// others: every value they carry is escaped with package untrusted.

// storedTime is how times of the store are printed.
const storedTime = "2006-01-02 15:04:05Z"

// WriteText renders the page as a table: ID, day, organisation, policy
// domains, sessions, success rate and DKIM result, then the count.
func (p *ReportPage) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	w.Textf("%6s  %-10s  %-24s  %-24s  %9s  %8s  %s\n", "ID", "DAY", "ORGANISATION", "DOMAINS", "SESSIONS", "SUCCESS", "DKIM")
	for _, r := range p.Reports {
		dkim := string(r.DKIM)
		if dkim == "" {
			dkim = "-"
		}
		w.Textf("%6d  %-10s  %-24s  %-24s  %9d  %8s  %s\n", r.ID, r.Day, clip(r.Organization, 24), clip(strings.Join(r.Domains, ","), 24),
			r.Sessions(), percent(r.SuccessRate()), dkim)
	}
	w.Textf("%d of %s\n", len(p.Reports), textout.Plural(p.Total, "report"))
	return w.Err
}

// clip escapes s (untrusted.Escape) and shortens it to n runes for a table
// column.
func clip(s string, n int) string {
	s = untrusted.Escape(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// percent formats a rate between 0 and 1 as "99.50%".
func percent(rate float64) string { return strconv.FormatFloat(100*rate, 'f', 2, 64) + "%" }

// WriteText renders the report in full: where and how it arrived, each
// policy with its session counts and failure details, and the deviations
// from RFC 8460 the parser tolerated.
func (r *StoredReport) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	w.Textf("report %d: %s, report-id %s\n", r.ID, r.Organization, r.ReportID)
	w.Textf("  period      %s to %s (day %s)\n", r.Start.Format(storedTime), r.End.Format(storedTime), r.Day)
	w.Textf("  contact     %s\n", r.ContactInfo)
	w.Textf("  received    %s by %s from %s (%s)\n", r.Received.Format(storedTime), r.Source, r.Origin, r.RawType)
	if m := r.Mail; m != nil {
		w.Textf("  mail        domain %s, submitter %s, DKIM %s %s\n", m.Domain, m.Submitter, m.DKIM, m.DKIMDomain)
		w.Textf("  subject     %s\n", m.Subject)
	}
	if r.Duplicates > 0 {
		w.Textf("  duplicates  received %s more\n", textout.Plural(r.Duplicates, "time"))
	}
	for _, p := range r.Report.Policies {
		w.Textf("\n  policy %s for %s: %d successful, %d failed sessions (%s)\n", p.Policy.Type, p.Policy.Domain,
			p.Summary.Successful, p.Summary.Failed, percent(successRate(p.Summary.Successful, p.Summary.Failed)))
		if len(p.Policy.MXHosts) > 0 {
			w.Textf("    mx-host  %s\n", strings.Join(p.Policy.MXHosts, ", "))
		}
		for _, s := range p.Policy.Strings {
			w.Textf("    policy   %s\n", s)
		}
		for _, f := range p.FailureDetails {
			w.Textf("    failure  %d × %s: MX %s (%s) from %s", f.FailedSessionCount, f.ResultType, textout.OrDash(f.ReceivingMXHostname),
				addrOrDash(f.ReceivingIP), addrOrDash(f.SendingMTAIP))
			if f.FailureReasonCode != "" {
				w.Textf(", reason %s", f.FailureReasonCode)
			}
			if f.AdditionalInformation != "" {
				w.Textf(", %s", f.AdditionalInformation)
			}
			w.Textf("\n")
		}
	}
	if len(r.Diagnostics) > 0 {
		w.Textf("\n  deviations from RFC 8460 tolerated:\n")
		for _, d := range r.Diagnostics {
			w.Textf("    %s\n", d)
		}
	}
	return w.Err
}

// addrOrDash formats an address a sender may have left out.
func addrOrDash(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// Describe names the report for people, escaped: ID, organisation,
// report-id, day, domains and sessions.
func (r *ReportInfo) Describe() string {
	return untrusted.Escape(fmt.Sprintf("report %d (%s, report-id %s, day %s, %s, %d sessions)",
		r.ID, r.Organization, r.ReportID, r.Day, strings.Join(r.Domains, ","), r.Sessions()))
}

// WriteText renders the page of the quarantine, an entry a line, then the
// count.
func (p *QuarantinePage) WriteText(out io.Writer) error {
	w := &textout.Writer{W: out}
	for _, q := range p.Entries {
		w.Textf("%d  %s  %s %s (%s, %s): %s\n", q.ID, q.Received.Format(storedTime), q.Source, q.Origin,
			textout.Plural(q.Size, "byte"), textout.Plural(q.Attempts, "attempt"), q.Reason)
	}
	w.Textf("%d of %d entries\n", len(p.Entries), p.Total)
	return w.Err
}

// WriteSummaryText renders the summaries of Summary: per domain its
// totals, a line per day and, when sessions failed, the failures by each
// of SummaryBreakdowns. With no domain it writes "no reports" followed by
// none, which can say why.
func WriteSummaryText(out io.Writer, domains []DomainSummary, none string) error {
	w := &textout.Writer{W: out}
	if len(domains) == 0 {
		w.Textf("no reports%s\n", none)
	}
	for i, d := range domains {
		if i > 0 {
			w.Textf("\n")
		}
		mode := string(d.PolicyType)
		if d.Mode != "" {
			mode += " " + d.Mode
		}
		w.Textf("%s: %s, %s successful, %s from %s, policy %s\n", d.Domain, textout.Plural(d.Sessions, "session"), percent(d.SuccessRate),
			textout.Plural(d.Reports, "report"), textout.Plural(d.Organizations, "organisation"), mode)
		w.Textf("  %-10s  %10s  %10s  %8s\n", "DAY", "SESSIONS", "FAILED", "SUCCESS")
		for _, day := range d.Days {
			w.Textf("  %-10s  %10d  %10d  %8s\n", day.Day, day.Sessions, day.Failed, percent(day.SuccessRate))
		}
		if d.Failed == 0 {
			continue
		}
		for _, b := range SummaryBreakdowns {
			w.Textf("  failures by %s:\n", b.Title)
			for _, c := range d.Failures[b.By] {
				w.Textf("    %10d  %s\n", c.Failed, textout.OrDash(strings.TrimSpace(c.Key)))
			}
		}
	}
	return w.Err
}
