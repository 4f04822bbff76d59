package reportstore

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

func TestMonitorStateSQLite(t *testing.T) {
	runMonitorState(t, openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "reports.db")))
}

func TestMonitorStatePostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	runMonitorState(t, openURL(t, pg.NewDatabase(t)))
}

// runMonitorState opens, updates and ends conditions with their alerts,
// and delivers the alerts channel by channel.
func runMonitorState(t *testing.T, s *Store) {
	ctx := context.Background()
	since := testNow.Add(-time.Hour)
	c := MonitorCondition{Domain: "Example.COM.", Kind: "mx-cert-expiry", Subject: "mx1.example.com", Severity: "warning",
		Message: "expires in 10 days", Fix: "renew", Since: since, Seen: since}
	firing := &MonitorAlert{Domain: c.Domain, Kind: c.Kind, Subject: c.Subject, Severity: c.Severity, Status: AlertFiring,
		Message: c.Message, Fix: c.Fix, Since: since, Pending: []string{"email", "webhook[0]"}}
	c.Fired = true
	if err := s.PutMonitorCondition(ctx, &c, firing); err != nil {
		t.Fatal(err)
	}
	if firing.ID == 0 || !firing.Time.Equal(testNow) {
		t.Errorf("alert id %d, time %s", firing.ID, firing.Time)
	}
	// Seen again, now critical, without an alert.
	c.Severity, c.Seen = "critical", testNow
	if err := s.PutMonitorCondition(ctx, &c, nil); err != nil {
		t.Fatal(err)
	}
	other := MonitorCondition{Domain: "other.example", Kind: "sts-record-missing", Subject: "_mta-sts.other.example", Severity: "critical", Since: testNow, Seen: testNow}
	if err := s.PutMonitorCondition(ctx, &other, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.MonitorConditions(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := []MonitorCondition{{Domain: "example.com", Kind: "mx-cert-expiry", Subject: "mx1.example.com", Severity: "critical",
		Message: "expires in 10 days", Fix: "renew", Since: since.UTC(), Seen: testNow, Fired: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conditions of example.com (-want +got):\n%s", diff)
	}
	if all, err := s.MonitorConditions(ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("all conditions: %+v, %v", all, err)
	}

	pending, err := s.PendingMonitorAlerts(ctx)
	if err != nil || len(pending) != 1 || !cmp.Equal(pending[0].Pending, []string{"email", "webhook[0]"}) {
		t.Fatalf("pending: %+v, %v", pending, err)
	}
	if err := s.SetMonitorAlertPending(ctx, firing.ID, []string{"webhook[0]"}); err != nil {
		t.Fatal(err)
	}
	resolved := &MonitorAlert{Time: testNow.Add(time.Hour), Domain: "example.com", Kind: c.Kind, Subject: c.Subject, Severity: "critical",
		Status: AlertResolved, Message: c.Message, Since: since, Pending: []string{"email"}}
	if err := s.EndMonitorCondition(ctx, "example.com", c.Kind, c.Subject, resolved); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.MonitorConditions(ctx, "example.com"); len(left) != 0 {
		t.Errorf("conditions after the end: %+v", left)
	}
	pending, err = s.PendingMonitorAlerts(ctx)
	if err != nil || len(pending) != 2 || pending[0].ID != firing.ID || !cmp.Equal(pending[0].Pending, []string{"webhook[0]"}) || pending[1].ID != resolved.ID {
		t.Fatalf("pending after one delivery: %+v, %v", pending, err)
	}
	for _, id := range []int64{firing.ID, resolved.ID} {
		if err := s.SetMonitorAlertPending(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if pending, err := s.PendingMonitorAlerts(ctx); err != nil || len(pending) != 0 {
		t.Errorf("pending after delivery: %+v, %v", pending, err)
	}
	if err := s.SetMonitorAlertPending(ctx, 9999, nil); err == nil {
		t.Error("delivery of an unknown alert: no error")
	}
	hist, err := s.MonitorAlerts(ctx, "EXAMPLE.com", 0)
	if err != nil || len(hist) != 2 || hist[0].Status != AlertResolved || hist[1].Status != AlertFiring || !hist[0].Since.Equal(since) {
		t.Errorf("history: %+v, %v", hist, err)
	}
	if one, err := s.MonitorAlerts(ctx, "", 1); err != nil || len(one) != 1 || one[0].ID != resolved.ID {
		t.Errorf("newest alert: %+v, %v", one, err)
	}

	for i, v := range []string{"not-ready", "ready"} {
		d := MonitorDomain{Domain: "Example.com", Checked: testNow.Add(time.Duration(i) * time.Hour), PolicyID: "id1", Mode: "testing",
			Findings: json.RawMessage(`[{"code":"mx-cert-expiring"}]`), Verdict: v, Evidence: json.RawMessage(`{"status":"` + v + `"}`)}
		if err := s.PutMonitorDomain(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMonitorDomain(ctx, &MonitorDomain{Domain: "other.example", Checked: testNow, Mode: "enforce"}); err != nil {
		t.Fatal(err)
	}
	doms, err := s.MonitorDomains(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	wantDom := []MonitorDomain{{Domain: "example.com", Checked: testNow.Add(time.Hour), PolicyID: "id1", Mode: "testing",
		Findings: json.RawMessage(`[{"code":"mx-cert-expiring"}]`), Verdict: "ready", Evidence: json.RawMessage(`{"status":"ready"}`)}}
	if diff := cmp.Diff(wantDom, doms); diff != "" {
		t.Errorf("domain checks (-want +got):\n%s", diff)
	}
	if all, err := s.MonitorDomains(ctx, ""); err != nil || len(all) != 2 || string(all[1].Evidence) != "null" {
		t.Errorf("all domain checks: %+v, %v", all, err)
	}
}
