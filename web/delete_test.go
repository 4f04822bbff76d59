package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// addHugeReport stores a report of org whose failure count is 2^63-1,
// as stores filled before tlsrpt.Parse refused such counts hold.
func addHugeReport(t *testing.T, s *reportstore.Store, org string) int64 {
	t.Helper()
	start := testNow.AddDate(0, 0, -2).Truncate(24 * time.Hour)
	rep := &tlsrpt.Report{OrganizationName: org, ReportID: "huge-" + org, DateRange: tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)},
		Policies: []tlsrpt.PolicyResult{{Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com"},
			Summary: tlsrpt.Summary{Successful: math.MaxInt64, Failed: math.MaxInt64},
			FailureDetails: []tlsrpt.FailureDetail{{ResultType: tlsrpt.ResultCertificateExpired, ReceivingMXHostname: "mx1.example.com",
				FailedSessionCount: math.MaxInt64}}}}}
	raw, _ := tlsrpt.Render(rep)
	r, err := s.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON, Source: reportstore.SourceHTTPS})
	if err != nil || r.Outcome != reportstore.Accepted {
		t.Fatalf("Add: %+v, %v", r, err)
	}
	return r.ID
}

// TestHugeCountsAndDelete stores two reports whose counts overflow any
// sum: every page still answers, and a signed-in user deletes them with
// the form of the report's page, which refuses forged posts.
func TestHugeCountsAndDelete(t *testing.T) {
	s := filledStore(t, 20)
	first, second := addHugeReport(t, s, "Probe"), addHugeReport(t, s, "Probe Again")
	srv := newServer(t, s, Options{})
	c := newClient(t, srv)
	c.mustLogin()
	reportPage := fmt.Sprintf("%sreports/%d", testBase, first)
	for _, page := range []string{testBase, testBase + "domains/example.com", testBase + "reports", reportPage} {
		r := c.get(page)
		wantStatus(t, page, r, http.StatusOK)
		if page == testBase && !strings.Contains(r.body, "9,223,372,036,854,775,807") {
			t.Errorf("overview does not show the saturated sum:\n%.3000s", r.body)
		}
	}

	page := c.get(reportPage)
	token := csrf(t, page.body)
	deletePath := fmt.Sprintf("%sreports/%d/delete", testBase, first)
	if !strings.Contains(page.body, `action="`+deletePath+`"`) {
		t.Fatalf("report page has no delete form:\n%s", page.body)
	}
	stranger := newClient(t, srv)
	wantStatus(t, "delete signed out", stranger.post(deletePath, url.Values{"confirm": {"yes"}}), http.StatusUnauthorized)
	wantStatus(t, "delete without token", c.post(deletePath, url.Values{"confirm": {"yes"}}), http.StatusForbidden)
	wantStatus(t, "delete with a forged token", c.post(deletePath, url.Values{"confirm": {"yes"}, "csrf": {"forged"}}), http.StatusForbidden)
	c.header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, "delete from another site", c.post(deletePath, url.Values{"confirm": {"yes"}, "csrf": {token}}), http.StatusForbidden)
	c.header.Del("Sec-Fetch-Site")
	wantStatus(t, "delete unconfirmed", c.post(deletePath, url.Values{"csrf": {token}}), http.StatusBadRequest)
	wantStatus(t, "GET of the delete action", c.get(deletePath), http.StatusNotFound)
	wantStatus(t, "report still there", c.get(reportPage), http.StatusOK)

	r := c.post(deletePath, url.Values{"confirm": {"yes"}, "csrf": {token}})
	wantStatus(t, "delete", r, http.StatusOK)
	if !strings.Contains(r.body, fmt.Sprintf("Report %d (report-id huge-Probe from Probe,", first)) {
		t.Errorf("delete answer:\n%s", r.body)
	}
	wantStatus(t, "deleted report", c.get(reportPage), http.StatusNotFound)
	wantStatus(t, "delete again", c.post(deletePath, url.Values{"confirm": {"yes"}, "csrf": {token}}), http.StatusNotFound)

	// A script with a bearer token needs no CSRF token.
	script := newClient(t, srv)
	script.header.Set("Authorization", "Bearer "+testToken)
	wantStatus(t, "delete with a token", script.post(fmt.Sprintf("%sreports/%d/delete", testBase, second), url.Values{"confirm": {"yes"}}), http.StatusOK)
	r = c.get(testBase)
	wantStatus(t, "overview after deleting", r, http.StatusOK)
	if strings.Contains(r.body, "9,223,372,036,854,775,807") {
		t.Errorf("overview still counts the deleted reports")
	}
}
