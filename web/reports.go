package web

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// The list of reports, a report, and the quarantine.

// perPage is the length of a page of the report list and the quarantine.
const perPage = 50

// pager is the position in a paged list, with links to its neighbours.
type pager struct {
	Page, Pages int
	Total       int
	Prev, Next  string
}

// pageNumber returns the "page" parameter of r, from 1.
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// newPager returns the pager of page n of total entries; link returns
// the URL of another page.
func newPager(n, total int, link func(page int) string) pager {
	p := pager{Page: n, Pages: max(1, (total+perPage-1)/perPage), Total: total}
	if n > 1 {
		p.Prev = link(min(n-1, p.Pages))
	}
	if n < p.Pages {
		p.Next = link(n + 1)
	}
	return p
}

// reportsView is the data of the report list.
type reportsView struct {
	// The filter, as entered.
	Domain, Organization, Since, Until string
	Failures                           bool
	Reports                            []reportstore.ReportInfo
	Pager                              pager
}

// parseDay reads a YYYY-MM-DD parameter; "" is the zero time.
func parseDay(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not a date written YYYY-MM-DD", name, s)
	}
	return t, nil
}

// reports lists the stored reports, filtered and paged.
func (d *dashboard) reports(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := reportsView{Domain: q.Get("domain"), Organization: q.Get("organization"), Since: q.Get("since"), Until: q.Get("until"),
		Failures: q.Get("failures") != ""}
	n := pageNumber(r)
	o := reportstore.ListOptions{Filter: reportstore.Filter{Domain: v.Domain, Organization: v.Organization},
		FailuresOnly: v.Failures, Limit: perPage, Offset: (n - 1) * perPage}
	var errSince, errUntil error
	o.Since, errSince = parseDay("since", v.Since)
	o.Until, errUntil = parseDay("until", v.Until)
	for _, err := range []error{errSince, errUntil} {
		if err != nil {
			d.fail(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	ctx, cancel := queryContext(r)
	defer cancel()
	list, err := d.store.ListReports(ctx, o)
	if err != nil {
		d.storeFailed(w, r, err)
		return
	}
	v.Reports = list.Reports
	v.Pager = newPager(n, list.Total, func(page int) string {
		return d.views.href("reports", "domain", v.Domain, "organization", v.Organization, "since", v.Since, "until", v.Until,
			"failures", v.Failures, "page", page)
	})
	d.render(w, r, http.StatusOK, "reports", "Reports", v)
}

// reportView is the data of a report's page.
type reportView struct {
	*reportstore.StoredReport
	RawHref, DownloadHref, DeleteHref string
	Size                              int
	// CSRF is the token of the delete form.
	CSRF string
}

// loadByID reads what get returns for the numeric {id} of r's path, or
// answers with an error and returns false.
func loadByID[T any](d *dashboard, w http.ResponseWriter, r *http.Request, get func(context.Context, int64) (T, error)) (T, bool) {
	var zero T
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		d.notFound(w, r)
		return zero, false
	}
	ctx, cancel := queryContext(r)
	defer cancel()
	v, err := get(ctx, id)
	if err != nil {
		d.storeFailed(w, r, err)
		return zero, false
	}
	return v, true
}

// report shows a stored report: what it says, where it came from and
// what the parser tolerated.
func (d *dashboard) report(w http.ResponseWriter, r *http.Request) {
	rep, ok := loadByID(d, w, r, d.store.GetReport)
	if !ok {
		return
	}
	prefix := "reports/" + strconv.FormatInt(rep.ID, 10)
	v := reportView{StoredReport: rep, RawHref: d.views.href(prefix + "/raw"), DownloadHref: d.views.href(prefix + "/download"),
		DeleteHref: d.views.href(prefix + "/delete"), Size: len(rep.Raw), CSRF: identityOf(r).CSRF}
	d.render(w, r, http.StatusOK, "report", "Report "+rep.ReportID, v)
}

// reportRaw shows the bytes of a report as received.
func (d *dashboard) reportRaw(w http.ResponseWriter, r *http.Request) {
	rep, ok := loadByID(d, w, r, d.store.GetReport)
	if !ok {
		return
	}
	prefix := "reports/" + strconv.FormatInt(rep.ID, 10)
	v := newRawView(rep.Raw, rep.RawType)
	v.Heading = "Report " + rep.ReportID + " from " + rep.Organization
	v.Back, v.Download = d.views.href(prefix), d.views.href(prefix+"/download")
	d.render(w, r, http.StatusOK, "raw", "Raw report "+rep.ReportID, v)
}

// reportDownload sends the bytes of a report as received.
func (d *dashboard) reportDownload(w http.ResponseWriter, r *http.Request) {
	rep, ok := loadByID(d, w, r, d.store.GetReport)
	if ok {
		download(w, r, fmt.Sprintf("report-%d", rep.ID), rep.RawType, rep.Raw)
	}
}

// deleteReport removes a report, on a form of the report's page:
// posted from this site, with the session's CSRF token (a bearer token
// needs none) and the confirmation box ticked. Every signed-in user may
// delete reports. The answer is a page that says what was deleted, not a
// redirect.
func (d *dashboard) deleteReport(w http.ResponseWriter, r *http.Request) {
	if !d.postedHere(w, r) {
		return
	}
	id := identityOf(r)
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(id.CSRF)) {
		d.fail(w, r, http.StatusForbidden, "The delete form did not come from this session.")
		return
	}
	rep, ok := loadByID(d, w, r, d.store.GetReport)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		d.fail(w, r, http.StatusBadRequest, "Tick the box to confirm that the report is to be deleted.")
		return
	}
	ctx, cancel := queryContext(r)
	defer cancel()
	if err := d.store.DeleteReport(ctx, rep.ID); err != nil {
		d.storeFailed(w, r, err)
		return
	}
	d.log.Info("dashboard: report deleted", "id", rep.ID, "organization", rep.Organization, "report_id", rep.ReportID,
		"user", id.Name, "remote", r.RemoteAddr)
	d.render(w, r, http.StatusOK, "message", "Report deleted", messageView{
		Message: fmt.Sprintf("Report %d (report-id %s from %s, %s) was deleted.", rep.ID, rep.ReportID, rep.Organization, rep.Day),
		Link:    d.views.href("reports"),
	})
}

// quarantineView is the data of the quarantine list.
type quarantineView struct {
	Entries []reportstore.QuarantineEntry
	Pager   pager
}

// quarantine lists the input that could not be stored as reports.
func (d *dashboard) quarantine(w http.ResponseWriter, r *http.Request) {
	n := pageNumber(r)
	ctx, cancel := queryContext(r)
	defer cancel()
	list, err := d.store.ListQuarantine(ctx, reportstore.QuarantineOptions{Limit: perPage, Offset: (n - 1) * perPage})
	if err != nil {
		d.storeFailed(w, r, err)
		return
	}
	v := quarantineView{Entries: list.Entries,
		Pager: newPager(n, list.Total, func(page int) string { return d.views.href("quarantine", "page", page) })}
	d.render(w, r, http.StatusOK, "quarantine", "Quarantine", v)
}

// quarantined shows a quarantine entry: why it was kept, and its bytes.
func (d *dashboard) quarantined(w http.ResponseWriter, r *http.Request) {
	q, ok := loadByID(d, w, r, d.store.GetQuarantined)
	if !ok {
		return
	}
	v := newRawView(q.Raw, q.RawType)
	v.Heading = fmt.Sprintf("Quarantine entry %d", q.ID)
	v.Entry = q
	v.Back = d.views.href("quarantine")
	v.Download = d.views.href(fmt.Sprintf("quarantine/%d/download", q.ID))
	d.renderPage(w, r, http.StatusOK, "raw", page{Title: v.Heading, Section: "quarantine", Data: v})
}

// quarantinedDownload sends the bytes of a quarantine entry.
func (d *dashboard) quarantinedDownload(w http.ResponseWriter, r *http.Request) {
	q, ok := loadByID(d, w, r, d.store.GetQuarantined)
	if ok {
		download(w, r, fmt.Sprintf("quarantine-%d", q.ID), q.RawType, q.Raw)
	}
}
