package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mtasts/mtasts/reportstore"
)

// monitorStore returns a store holding what the monitor of mtasts serve
// writes: example.com critical (an MX certificate expiring, alerted; a
// readiness condition still held), ok.example without conditions, their
// last checks, alerts and a policy change.
func monitorStore(t testing.TB) *reportstore.Store {
	t.Helper()
	ctx := context.Background()
	s := openStore(t)
	since := testNow.Add(-2 * time.Hour)
	for _, d := range []reportstore.MonitorDomain{
		{Domain: "example.com", Checked: testNow, PolicyID: "20261126", Mode: "testing",
			Findings: json.RawMessage(`[{"code":"mx-cert-expiring-soon","severity":"warning","subject":"mx2.example.com [192.0.2.25]","message":"the certificate expires in 2 days","rfc":"RFC 8461 §4.2","fix":"renew it"}]`),
			Verdict:  "ready",
			Evidence: json.RawMessage(`{"domain":"example.com","verdict":"ready","window_days":14,"reasons":[],"evidence":{"days":9,"organizations":[{"organization":"Google Inc."},{"organization":"Microsoft Corporation"}],"sessions":640,"failed_sessions":0}}`)},
		{Domain: "ok.example", Checked: testNow, PolicyID: "1", Mode: "enforce", Findings: json.RawMessage(`[]`)},
	} {
		if err := s.PutMonitorDomain(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	expiring := reportstore.MonitorCondition{Domain: "example.com", Kind: "mx-cert-expiry", Subject: "mx2.example.com", Severity: "critical",
		Message: "the certificate of mx2.example.com expires in 2 days", Fix: "renew the certificate of mx2.example.com", Since: since, Seen: testNow, Fired: true}
	if err := s.PutMonitorCondition(ctx, &expiring, &reportstore.MonitorAlert{Time: since, Domain: "example.com", Kind: expiring.Kind,
		Subject: expiring.Subject, Severity: "critical", Status: reportstore.AlertFiring, Message: expiring.Message, Since: since}); err != nil {
		t.Fatal(err)
	}
	ready := reportstore.MonitorCondition{Domain: "example.com", Kind: "testing-ready", Subject: "example.com", Severity: "warning",
		Message: "in mode testing although ready", Fix: "mtasts promote example.com --apply", Since: since, Seen: testNow}
	if err := s.PutMonitorCondition(ctx, &ready, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAudit(ctx, &reportstore.AuditEntry{Time: since, Actor: "bob", Domain: "example.com", Action: "demote",
		OldID: "20261101", NewID: "20261126", OldPolicy: "mode: enforce", NewPolicy: "mode: testing"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatusPages(t *testing.T) {
	c := newClient(t, newServer(t, monitorStore(t), Options{}))
	c.mustLogin()

	r := c.get(testBase + "status")
	wantStatus(t, "status overview", r, http.StatusOK)
	wantContains(t, "status overview", r.body, "2 domain(s) watched: <strong>1</strong> critical", "1 open alert(s)",
		`href="/dashboard/status/example.com">example.com</a>`, `class="badge status-critical">critical`, `class="badge status-ok">ok`,
		"mx-cert-expiry</span> mx2.example.com", `aria-current="page">Status</a>`)
	if i, j := strings.Index(r.body, ">example.com</a>"), strings.Index(r.body, ">ok.example</a>"); i < 0 || j < i {
		t.Error("the critical domain is not listed first")
	}

	r = c.get(testBase + "status/example.com")
	wantStatus(t, "domain status", r, http.StatusOK)
	wantContains(t, "domain status", r.body, `<h1 id="domain-name">example.com</h1>`, `id="domain-status" class="status-critical">critical`,
		"the certificate of mx2.example.com expires in 2 days", "renew the certificate of mx2.example.com",
		"not alerted yet", "Readiness for enforce: ready", "640 session(s), 0 failed, reported by 2 organisation(s) on 9 day(s)",
		"mx-cert-expiring-soon", "mx2.example.com [192.0.2.25]", "firing", "demote", "bob", "<code>20261101</code> → <code>20261126</code>",
		`href="/dashboard/domains/example.com?days=30"`)
	r = c.get(testBase + "status/ok.example")
	wantStatus(t, "ok domain status", r, http.StatusOK)
	wantContains(t, "ok domain status", r.body, "Nothing is wrong.", "The check found nothing to report.", "No alert yet.")
	wantStatus(t, "domain never checked", c.get(testBase+"status/other.example"), http.StatusNotFound)

	r = c.get(testBase + "status")
	if strings.Contains(r.body, "<script") {
		t.Error("the status page has a script")
	}
}

// TestStatusInChromium opens the status overview and a domain's status
// page in a real headless Chromium: the style sheet colours the states.
func TestStatusInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = startBrowser(t, ctx)
	base := serve(t, newHandler(t, monitorStore(t), Options{})) + testBase
	var errs consoleErrors
	if err := chromedp.Listen(ctx, errs.listen); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"status"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("user"), testUser),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("status-domains")),
	); err != nil {
		t.Fatalf("status overview: %v", err)
	}
	rows := run(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#status-domains tbody tr").length`))
	colour := run(t, ctx, "critical colour", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#status-domains .status-critical")).color`))
	if rows != 2 || colour != "rgb(176, 0, 32)" {
		t.Errorf("overview: %d rows, critical in %q", rows, colour)
	}
	screenshot(t, ctx, "status.png")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#status-domains a[href$="/status/example.com"]`)),
		chromedp.WaitVisible(chromedp.ID("conditions")),
	); err != nil {
		t.Fatalf("domain status: %v", err)
	}
	for id, want := range map[string]string{"conditions": "mx2.example.com", "verdict": "Readiness for enforce: ready",
		"findings": "mx-cert-expiring-soon", "alerts": "firing", "audit": "demote"} {
		if text := run(t, ctx, id, chromedp.Text(chromedp.ID(id))); !strings.Contains(text, want) {
			t.Errorf("section %s lacks %q:\n%s", id, want, text)
		}
	}
	screenshot(t, ctx, "domainstatus.png")
	if errs := errs.get(); len(errs) > 0 {
		t.Errorf("the browser logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
