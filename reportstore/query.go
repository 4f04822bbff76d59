package reportstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

// The query API: what the CLI and the dashboard ask of a Store. Every
// query takes a Filter; days are UTC days, the day of a report being the
// one its date range starts in.

// Filter selects reports. The zero Filter selects all of them.
type Filter struct {
	// Domain keeps the reports, policy results and failures of one
	// policy domain (case-insensitive, trailing dot ignored).
	Domain string
	// Organization keeps what one sending organisation reported
	// ("organization-name", exact).
	Organization string
	// Since and Until bound the report day: Since's day included, Until's
	// day excluded. Zero means unbounded. Only the date (in UTC) counts.
	Since, Until time.Time
}

// ListOptions selects and pages reports for ListReports.
type ListOptions struct {
	Filter
	// FailuresOnly keeps reports that count at least one failed session
	// (of the selected domain, if any).
	FailuresOnly bool
	// Limit is the page size: 0 means DefaultLimit, and at most MaxLimit.
	Limit int
	// Offset skips that many reports of the ordered list.
	Offset int
}

// Page sizes of ListReports and ListQuarantine.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ReportInfo is a stored report as listed: what identifies it and its
// totals, without the details and the raw bytes.
type ReportInfo struct {
	ID           int64     `json:"id"`
	Organization string    `json:"organization"`
	ReportID     string    `json:"report_id"`
	ContactInfo  string    `json:"contact_info,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Day          string    `json:"day"`     // YYYY-MM-DD, UTC
	Domains      []string  `json:"domains"` // policy domains, lower-case
	Successful   int64     `json:"successful"`
	Failed       int64     `json:"failed"`
	Received     time.Time `json:"received"`
	Source       Source    `json:"source"`
	Origin       string    `json:"origin,omitempty"`
	// Duplicates counts how often the same report arrived again.
	Duplicates int `json:"duplicates"`
	// Diagnostics counts the deviations the parser tolerated.
	Diagnostics int        `json:"diagnostics"`
	Mail        *MailInfo  `json:"mail,omitempty"`
	DKIM        DKIMStatus `json:"dkim,omitempty"` // Mail.DKIM, or "" for reports not from mail
}

// SuccessRate is the share of successful sessions, between 0 and 1; 1
// when there were no sessions.
func (r *ReportInfo) SuccessRate() float64 { return successRate(r.Successful, r.Failed) }

// Sessions is the number of sessions counted, at most math.MaxInt64.
func (r *ReportInfo) Sessions() int64 { return sessions(r.Successful, r.Failed) }

// ReportPage is one page of ListReports.
type ReportPage struct {
	Reports []ReportInfo `json:"reports"`
	// Total is the number of reports the filter selects, on all pages.
	Total int `json:"total"`
}

// StoredReport is a stored report with everything kept about it.
type StoredReport struct {
	ReportInfo
	Report      *tlsrpt.Report      `json:"report"`
	Diagnostics []tlsrpt.Diagnostic `json:"diagnostics"`
	// Raw is the input as received; RawType says what it is: a media
	// type of RFC 8460 §6 for a bare report, message/rfc822 for a mail.
	Raw     []byte `json:"-"`
	RawType string `json:"raw_type"`
}

// DaySummary counts the sessions of one policy domain on one UTC day.
type DaySummary struct {
	Domain     string `json:"domain"`
	Day        string `json:"day"` // YYYY-MM-DD
	Successful int64  `json:"successful"`
	Failed     int64  `json:"failed"`
	Reports    int    `json:"reports"`
}

// Sessions is the number of sessions counted, at most math.MaxInt64.
func (d *DaySummary) Sessions() int64 { return sessions(d.Successful, d.Failed) }

// SuccessRate is the share of successful sessions, between 0 and 1; 1
// when there were no sessions.
func (d *DaySummary) SuccessRate() float64 { return successRate(d.Successful, d.Failed) }

// Breakdown names what failures are grouped by.
type Breakdown string

// Groupings of Failures.
const (
	ByResultType   Breakdown = "result-type"  // RFC 8460 §4.3 result type
	ByOrganization Breakdown = "organization" // sending organisation
	ByMXHost       Breakdown = "mx-host"      // receiving-mx-hostname
	ByReceivingIP  Breakdown = "receiving-ip" // receiving-ip
	BySendingIP    Breakdown = "sending-ip"   // sending-mta-ip
	ByReasonCode   Breakdown = "reason-code"  // failure-reason-code
	ByDomain       Breakdown = "domain"       // policy domain
	ByDay          Breakdown = "day"          // UTC day of the report
)

// Breakdowns lists every Breakdown, in the order the CLI prints them.
var Breakdowns = []Breakdown{ByResultType, ByOrganization, ByMXHost, ByReceivingIP, BySendingIP, ByReasonCode, ByDomain, ByDay}

// breakdownColumns maps a Breakdown to its column of tlsrpt_failure.
var breakdownColumns = map[Breakdown]string{
	ByResultType:   "result_type",
	ByOrganization: "organization",
	ByMXHost:       "mx_host",
	ByReceivingIP:  "receiving_ip",
	BySendingIP:    "sending_ip",
	ByReasonCode:   "reason_code",
	ByDomain:       "policy_domain",
	ByDay:          "day",
}

// FailureCount is one group of Failures.
type FailureCount struct {
	// Key is the value grouped by; "" when senders left it out.
	Key     string `json:"key"`
	Failed  int64  `json:"failed"`  // failed sessions
	Reports int    `json:"reports"` // reports that counted them
}

// DomainOverview sums up one policy domain over a period.
type DomainOverview struct {
	Domain     string `json:"domain"`
	Successful int64  `json:"successful"`
	Failed     int64  `json:"failed"`
	Reports    int    `json:"reports"`
	// Organizations counts the distinct organisations that reported.
	Organizations int `json:"organizations"`
	// Days has one entry per day with reports, oldest first: the series
	// of a trend chart.
	Days []DaySummary `json:"days"`
	// Trend is the success rate of the later half of Days minus that of
	// the earlier half: positive when things improve. 0 with fewer than
	// two days.
	Trend float64 `json:"trend"`
	// PolicyType and Mode are those of the latest report: the policy
	// senders applied, and for MTA-STS the mode of its policy-string.
	PolicyType tlsrpt.PolicyType `json:"policy_type"`
	Mode       string            `json:"mode,omitempty"`
	LastDay    string            `json:"last_day"`
}

// SuccessRate is the share of successful sessions, between 0 and 1; 1
// when there were no sessions.
func (d *DomainOverview) SuccessRate() float64 { return successRate(d.Successful, d.Failed) }

// Sessions is the number of sessions counted, at most math.MaxInt64.
func (d *DomainOverview) Sessions() int64 { return sessions(d.Successful, d.Failed) }

// QuarantineOptions pages ListQuarantine.
type QuarantineOptions struct {
	Limit  int // 0 means DefaultLimit, at most MaxLimit
	Offset int
}

// QuarantineEntry is input kept because it could not be stored as a
// report.
type QuarantineEntry struct {
	ID       int64     `json:"id"`
	Received time.Time `json:"received"`
	Source   Source    `json:"source"`
	Origin   string    `json:"origin,omitempty"`
	Reason   string    `json:"reason"`
	Size     int       `json:"size"`
	RawType  string    `json:"raw_type"`
	// Attempts counts how often the same bytes arrived.
	Attempts int `json:"attempts"`
	// Raw is the input; filled by GetQuarantined only.
	Raw []byte `json:"-"`
}

// QuarantinePage is one page of ListQuarantine.
type QuarantinePage struct {
	Entries []QuarantineEntry `json:"entries"`
	Total   int               `json:"total"`
}

// successRate is ok/(ok+failed), computed in floating point so that
// counts near math.MaxInt64 do not overflow.
func successRate(ok, failed int64) float64 {
	total := float64(ok) + float64(failed)
	if total == 0 {
		return 1
	}
	return float64(ok) / total
}

// where builds the WHERE clause of f for a table holding policy_domain,
// organization and day columns (all three tables do), with table alias
// prefix p ("" or "x.").
func (f Filter) where(p string, args *[]any) string {
	var conds []string
	add := func(cond string, v any) {
		*args = append(*args, v)
		conds = append(conds, fmt.Sprintf(cond, len(*args)))
	}
	if f.Domain != "" {
		add(p+"policy_domain = $%d", normDomain(f.Domain))
	}
	if f.Organization != "" {
		add(p+"organization = $%d", f.Organization)
	}
	if !f.Since.IsZero() {
		add(p+"day >= $%d", dayOf(f.Since))
	}
	if !f.Until.IsZero() {
		add(p+"day < $%d", dayOf(f.Until))
	}
	if len(conds) == 0 {
		return "1 = 1"
	}
	return strings.Join(conds, " AND ")
}

// DailySummary counts sessions per policy domain and day, ordered by
// domain and day.
func (s *Store) DailySummary(ctx context.Context, f Filter) ([]DaySummary, error) {
	if f.Organization != "" {
		return s.policyDailySummary(ctx, f)
	}
	return s.rollupDays(ctx, f)
}

// policyDailySummary is DailySummary from the policy results, for filters
// the rollup does not answer.
func (s *Store) policyDailySummary(ctx context.Context, f Filter) ([]DaySummary, error) {
	var args []any
	rows, err := s.rdb.QueryContext(ctx, `SELECT policy_domain, day, `+sumOf("successful")+`, `+sumOf("failed")+`, COUNT(DISTINCT report_ref)
		FROM tlsrpt_policy WHERE `+f.where("", &args)+` GROUP BY policy_domain, day ORDER BY policy_domain, day`, args...)
	return s.scanDays(rows, err, "daily summary")
}

// Failures counts failed sessions grouped by one Breakdown, largest
// first, at most limit groups (0: all).
func (s *Store) Failures(ctx context.Context, f Filter, by Breakdown, limit int) ([]FailureCount, error) {
	col, ok := breakdownColumns[by]
	if !ok {
		return nil, fmt.Errorf("reportstore: %w %q", errUnknownBreakdown, by)
	}
	var args []any
	q := `SELECT ` + col + `, ` + sumOf("failed_count") + `, COUNT(DISTINCT report_ref) FROM tlsrpt_failure
		WHERE ` + f.where("", &args) + ` GROUP BY ` + col + ` ORDER BY 2 DESC, 1`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.err("failures by "+string(by), err)
	}
	defer rows.Close()
	out := []FailureCount{}
	for rows.Next() {
		var c FailureCount
		if err := rows.Scan(&c.Key, count(&c.Failed), &c.Reports); err != nil {
			return nil, s.err("failures by "+string(by), err)
		}
		out = append(out, c)
	}
	return out, s.rowsErr("failures by "+string(by), rows)
}

// Domains sums up every policy domain the filter selects, ordered by
// domain name, each with its daily series and the policy of its latest
// report.
func (s *Store) Domains(ctx context.Context, f Filter) ([]DomainOverview, error) {
	var days []DaySummary
	var orgs map[string]int
	var latest map[string]policyPick
	var err error
	if f.Organization == "" {
		days, err = s.rollupDays(ctx, f)
		if err == nil {
			orgs, err = s.rollupOrganizations(ctx, f)
		}
		if err == nil {
			latest, err = s.rollupLatest(ctx, f)
		}
	} else {
		days, orgs, latest, err = s.policyDomains(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	return overviews(days, orgs, latest), nil
}

// overviews sums up domains from their daily sums, ordered by domain and
// day, their numbers of organisations and their policies.
func overviews(days []DaySummary, orgs map[string]int, latest map[string]policyPick) []DomainOverview {
	out := []DomainOverview{}
	for _, d := range days {
		if len(out) == 0 || out[len(out)-1].Domain != d.Domain {
			p := latest[d.Domain]
			out = append(out, DomainOverview{Domain: d.Domain, Organizations: orgs[d.Domain],
				PolicyType: tlsrpt.PolicyType(p.policyType), Mode: p.mode})
		}
		o := &out[len(out)-1]
		sum := tlsrpt.Summary{Successful: o.Successful, Failed: o.Failed}.Add(tlsrpt.Summary{Successful: d.Successful, Failed: d.Failed})
		o.Successful, o.Failed = sum.Successful, sum.Failed
		o.Reports += d.Reports // a report counts for one day only
		o.Days = append(o.Days, d)
		o.LastDay = d.Day
	}
	for i := range out {
		out[i].Trend = trend(out[i].Days)
	}
	return out
}

// policyDomains reads what Domains needs from the policy results, for
// filters the rollup does not answer: the daily sums, the number of
// organisations and the policy of each domain.
func (s *Store) policyDomains(ctx context.Context, f Filter) ([]DaySummary, map[string]int, map[string]policyPick, error) {
	days, err := s.policyDailySummary(ctx, f)
	if err != nil {
		return nil, nil, nil, err
	}
	var args []any
	orgs, err := s.domainCounts(ctx, "domains", `SELECT policy_domain, COUNT(DISTINCT organization)
		FROM tlsrpt_policy WHERE `+f.where("", &args)+` GROUP BY policy_domain`, args)
	if err != nil {
		return nil, nil, nil, err
	}
	args = nil
	latest, err := s.latestPicks(ctx, `SELECT p.policy_domain, p.policy_type, p.mode, p.report_ref, p.idx
		FROM tlsrpt_policy p JOIN (
			SELECT policy_domain, MAX(day) AS last FROM tlsrpt_policy WHERE `+f.where("", &args)+` GROUP BY policy_domain
		) m ON p.policy_domain = m.policy_domain AND p.day = m.last`, args)
	if err != nil {
		return nil, nil, nil, err
	}
	return days, orgs, latest, nil
}

// domainCounts runs query, which returns domains and counts, and maps
// the domains to their counts.
func (s *Store) domainCounts(ctx context.Context, op, query string, args []any) (map[string]int, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var domain string
		var n int
		if err := rows.Scan(&domain, &n); err != nil {
			return nil, s.err(op, err)
		}
		out[domain] = n
	}
	return out, s.rowsErr(op, rows)
}

// latestPicks runs query, which returns domains and candidates for their
// policyPick, and picks one for each domain.
func (s *Store) latestPicks(ctx context.Context, query string, args []any) (map[string]policyPick, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.err("latest policies", err)
	}
	defer rows.Close()
	out := map[string]policyPick{}
	for rows.Next() {
		var domain string
		var p policyPick
		if err := rows.Scan(&domain, &p.policyType, &p.mode, &p.ref, &p.idx); err != nil {
			return nil, s.err("latest policies", err)
		}
		if p.after(out[domain]) {
			out[domain] = p
		}
	}
	return out, s.rowsErr("latest policies", rows)
}

// trend compares the success rate of the later half of days with the
// earlier half.
func trend(days []DaySummary) float64 {
	if len(days) < 2 {
		return 0
	}
	half := len(days) / 2
	rate := func(ds []DaySummary) float64 {
		var sum tlsrpt.Summary
		for _, d := range ds {
			sum = sum.Add(tlsrpt.Summary{Successful: d.Successful, Failed: d.Failed})
		}
		return successRate(sum.Successful, sum.Failed)
	}
	return rate(days[len(days)-half:]) - rate(days[:half])
}
