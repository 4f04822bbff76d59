package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// The overview and the page of a domain.

// periodChoices are the periods, in days, that the pages offer.
var periodChoices = []int{7, 30, 90, 365}

const defaultPeriod = 30

// period is the span of days a page shows: the last Days UTC days,
// today included.
type period struct {
	Days        int
	From, Until time.Time // From's day included, Until's excluded
	Choices     []int
}

// period returns the period asked for by the "days" parameter of r.
func (d *dashboard) period(r *http.Request) period {
	n := defaultPeriod
	if v, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && slices.Contains(periodChoices, v) {
		n = v
	}
	until := d.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	return period{Days: n, From: until.AddDate(0, 0, -n), Until: until, Choices: periodChoices}
}

func (p period) filter(domain string) reportstore.Filter {
	return reportstore.Filter{Domain: domain, Since: p.From, Until: p.Until}
}

// domainRows returns the rows of the domain, or "" all domains, over the
// period, from the cache if the store is still at version ver.
func (d *dashboard) domainRows(ctx context.Context, ver reportstore.Version, p period, domain string) ([]domainRow, error) {
	key := fmt.Sprintf("domains %s %s %q", p.From.Format(time.DateOnly), p.Until.Format(time.DateOnly), domain)
	return cached(d.cache, ver, key, func() ([]domainRow, error) {
		doms, err := d.store.Domains(ctx, p.filter(domain))
		rows := make([]domainRow, len(doms))
		for i, o := range doms {
			rows[i] = newDomainRow(o, p)
		}
		return rows, err
	})
}

// failures returns the failures of the domain, or "" all domains, over the
// period by a breakdown, from the cache if the store is still at version
// ver.
func (d *dashboard) failures(ctx context.Context, ver reportstore.Version, p period, domain string, by reportstore.Breakdown, limit int) ([]reportstore.FailureCount, error) {
	key := fmt.Sprintf("failures %s %s %q %s %d", p.From.Format(time.DateOnly), p.Until.Format(time.DateOnly), domain, by, limit)
	return cached(d.cache, ver, key, func() ([]reportstore.FailureCount, error) { return d.store.Failures(ctx, p.filter(domain), by, limit) })
}

// runQueries runs the store queries of a page at once, with the version
// of the store for the cache. If one fails, it answers with an error page
// and returns false.
func (d *dashboard) runQueries(w http.ResponseWriter, r *http.Request, queries func(context.Context, reportstore.Version) []func() error) bool {
	ctx, cancel := queryContext(r)
	defer cancel()
	ver, err := d.store.Version(ctx)
	if err == nil {
		qs := queries(ctx, ver)
		errs := make([]error, len(qs))
		var wg sync.WaitGroup
		for i, q := range qs {
			wg.Go(func() { errs[i] = q() })
		}
		wg.Wait()
		err = errors.Join(errs...)
	}
	if err != nil {
		d.storeFailed(w, r, err)
		return false
	}
	return true
}

// queryContext bounds the store queries of a request.
func queryContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), queryTimeout)
}

// domainRow is a domain as the overview lists it.
type domainRow struct {
	reportstore.DomainOverview
	Badge policyBadge
	Spark template.HTML
}

func newDomainRow(o reportstore.DomainOverview, p period) domainRow {
	return domainRow{DomainOverview: o, Badge: badge(&o), Spark: sparkline(dailySeries(o.Days, p.From, p.Days))}
}

// resultRow is a result type and how many sessions failed with it.
type resultRow struct {
	reportstore.FailureCount
	Share   float64 // of all failed sessions
	Explain explanation
}

func resultRows(counts []reportstore.FailureCount, failed int64) []resultRow {
	rows := make([]resultRow, len(counts))
	for i, c := range counts {
		rows[i] = resultRow{FailureCount: c, Share: share(c.Failed, failed), Explain: explain(c.Key)}
	}
	return rows
}

// overviewView is the data of the overview.
type overviewView struct {
	Period             period
	Domains            []domainRow
	Successful, Failed int64
	Reports            int
	TopFailures        []resultRow
	Quarantined        int
	SuccessRate        float64
}

// topFailures is how many result types the overview lists.
const topFailures = 5

// overview lists every domain with reports in the period.
func (d *dashboard) overview(w http.ResponseWriter, r *http.Request) {
	p := d.period(r)
	var doms []domainRow
	var top []reportstore.FailureCount
	var quarantine *reportstore.QuarantinePage
	ok := d.runQueries(w, r, func(ctx context.Context, ver reportstore.Version) []func() error {
		return []func() error{
			func() (err error) { doms, err = d.domainRows(ctx, ver, p, ""); return },
			func() (err error) {
				top, err = d.failures(ctx, ver, p, "", reportstore.ByResultType, topFailures)
				return
			},
			func() (err error) {
				quarantine, err = d.store.ListQuarantine(ctx, reportstore.QuarantineOptions{Limit: 1})
				return
			},
		}
	})
	if !ok {
		return
	}
	v := overviewView{Period: p, Quarantined: quarantine.Total, Domains: doms}
	var sum tlsrpt.Summary
	for _, o := range doms {
		sum = sum.Add(tlsrpt.Summary{Successful: o.Successful, Failed: o.Failed})
		v.Reports += o.Reports
	}
	v.Successful, v.Failed = sum.Successful, sum.Failed
	v.SuccessRate = (&reportstore.DaySummary{Successful: v.Successful, Failed: v.Failed}).SuccessRate()
	v.TopFailures = resultRows(top, v.Failed)
	d.render(w, r, http.StatusOK, "overview", "Overview", v)
}

// breakdownLimit is how many groups a breakdown of the domain page lists.
const breakdownLimit = 15

// domainBreakdowns are the breakdowns of a domain's failures besides the
// result type, with what each column means.
var domainBreakdowns = []struct {
	by           reportstore.Breakdown
	title, about string
}{
	{reportstore.ByOrganization, "Sending organisation", "Who reported the failures: the mail service whose servers could not deliver securely."},
	{reportstore.ByMXHost, "MX host", "Your receiving server, as the sender named it (receiving-mx-hostname)."},
	{reportstore.ByReceivingIP, "Receiving IP", "The address the sender connected to. One address standing out is often one node of a cluster, or an outdated DNS record."},
	{reportstore.BySendingIP, "Sending IP", "The sender's server that saw the failure."},
	{reportstore.ByReasonCode, "Reason code", "The sender's own words for the failure (failure-reason-code), often an OpenSSL or SMTP error."},
}

// breakdownView is one table of the domain page.
type breakdownView struct {
	Title, About string
	Rows         []countRow
}

// countRow is one group of a breakdown.
type countRow struct {
	reportstore.FailureCount
	Share float64
	// Link lists the failing reports of the group, where the report
	// list can select them.
	Link string
}

// domainView is the data of a domain's page.
type domainView struct {
	Domain string
	Period period
	// Overview is nil when the domain has no reports in the period.
	Overview              *domainRow
	Note                  string
	Sessions, FailureRate template.HTML
	ResultTypes           []resultRow
	Breakdowns            []breakdownView
	// Daily lists the days with reports, the latest first.
	Daily []reportstore.DaySummary
}

// domain shows one policy domain: charts and failure breakdowns.
func (d *dashboard) domain(w http.ResponseWriter, r *http.Request) {
	domain := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(r.PathValue("domain"))), ".")
	p := d.period(r)
	var doms []domainRow
	var results []reportstore.FailureCount
	groups := make([][]reportstore.FailureCount, len(domainBreakdowns))
	ok := d.runQueries(w, r, func(ctx context.Context, ver reportstore.Version) []func() error {
		queries := []func() error{
			func() (err error) { doms, err = d.domainRows(ctx, ver, p, domain); return },
			func() (err error) {
				results, err = d.failures(ctx, ver, p, domain, reportstore.ByResultType, 0)
				return
			},
		}
		for i, b := range domainBreakdowns {
			queries = append(queries, func() (err error) { groups[i], err = d.failures(ctx, ver, p, domain, b.by, breakdownLimit); return })
		}
		return queries
	})
	if !ok {
		return
	}
	v := domainView{Domain: domain, Period: p}
	if len(doms) == 0 {
		d.render(w, r, http.StatusOK, "domain", domain, v)
		return
	}
	row := doms[0]
	v.Overview = &row
	v.Note = modeNote(&row.DomainOverview)
	series := dailySeries(row.Days, p.From, p.Days)
	dayLink := func(day string) string {
		t, _ := time.Parse(time.DateOnly, day)
		return d.views.href("reports", "domain", domain, "since", day, "until", t.AddDate(0, 0, 1).Format(time.DateOnly))
	}
	v.Sessions = sessionsChart(series, dayLink)
	v.FailureRate = failureRateChart(series, dayLink)
	v.ResultTypes = resultRows(results, row.Failed)
	for i, b := range domainBreakdowns {
		bv := breakdownView{Title: b.title, About: b.about}
		for _, c := range groups[i] {
			cr := countRow{FailureCount: c, Share: share(c.Failed, row.Failed)}
			if b.by == reportstore.ByOrganization {
				cr.Link = d.views.href("reports", "domain", domain, "organization", c.Key, "failures", 1, "since",
					p.From.Format(time.DateOnly))
			}
			bv.Rows = append(bv.Rows, cr)
		}
		v.Breakdowns = append(v.Breakdowns, bv)
	}
	v.Daily = slices.Clone(row.Days)
	slices.Reverse(v.Daily)
	d.render(w, r, http.StatusOK, "domain", domain, v)
}
