package monitor

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/sts"
)

var judgeNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// healthy is the check of example.com with a valid record of id1, a
// policy host and two MX hosts whose certificates last 60 days.
func healthy() *check.Result {
	cert := func(days int) *check.TLSFacts {
		return &check.TLSFacts{Certificate: &check.CertFacts{NotAfter: judgeNow.Add(time.Duration(days) * 24 * time.Hour)}}
	}
	return &check.Result{Domain: "example.com", Facts: check.Facts{
		Record:     check.RecordFacts{Name: "_mta-sts.example.com", ID: "id1", Valid: true},
		PolicyHost: &check.PolicyHostFacts{Name: "mta-sts.example.com", URL: "https://mta-sts.example.com/.well-known/mta-sts.txt", TLS: cert(60)},
		Policy:     &check.PolicyFacts{Mode: "enforce"},
		MX: check.MXFacts{Hosts: []check.MXHostFacts{
			{Host: "mx1.example.com", Addresses: []check.AddressFacts{{IP: "192.0.2.1", TLS: cert(60)}}},
			{Host: "mx2.example.com", Addresses: []check.AddressFacts{{IP: "192.0.2.2", TLS: cert(60)}, {IP: "192.0.2.3", TLS: cert(2)}}},
		}},
		TLSRPT: check.TLSRPTFacts{Name: "_smtp._tls.example.com", RUA: []string{"mailto:tlsrpt@example.com"}},
	}}
}

func TestJudge(t *testing.T) {
	served := rollout.ServedPolicy{ID: "id1", Mode: sts.ModeEnforce, MX: []string{"mx1.example.com", "mx2.example.com"}}
	type want struct {
		Kind    Kind
		Subject string
		Sev     Severity
	}
	tests := []struct {
		name   string
		change func(o *Observation)
		want   []want
	}{
		{"one address of mx2 expires in 2 days", func(o *Observation) {}, []want{{KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"policy host certificate in 10 days", func(o *Observation) {
			o.Check.Facts.PolicyHost.TLS.Certificate.NotAfter = judgeNow.Add(10 * 24 * time.Hour)
		}, []want{{KindPolicyCertExpiry, "mta-sts.example.com", Warning}, {KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"policy host certificate in 15 days", func(o *Observation) {
			o.Check.Facts.PolicyHost.TLS.Certificate.NotAfter = judgeNow.Add(15 * 24 * time.Hour)
		}, []want{{KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"no policy fetched", func(o *Observation) { o.Check.Facts.Policy = nil },
			[]want{{KindPolicyFetch, "mta-sts.example.com", Critical}, {KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"stale id", func(o *Observation) { o.Served.ID = "id2" },
			[]want{{KindSTSRecordID, "_mta-sts.example.com", Warning}, {KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"no record", func(o *Observation) { o.Check.Facts.Record = check.RecordFacts{Name: "_mta-sts.example.com"} },
			[]want{{KindSTSRecordMissing, "_mta-sts.example.com", Critical}, {KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"mx2 not covered in testing", func(o *Observation) { o.Served.Mode, o.Served.MX = sts.ModeTesting, []string{"mx1.example.com"} },
			[]want{{KindMXNotCovered, "mx2.example.com", Warning}, {KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"no TLS-RPT record", func(o *Observation) { o.Check.Facts.TLSRPT.RUA = nil },
			[]want{{KindMXCertExpiry, "mx2.example.com", Critical}, {KindTLSRPTRecord, "_smtp._tls.example.com", Warning}}},
		{"failure rate above 5%", func(o *Observation) { o.Reports = &ReportStats{Sessions: 1000, Failed: 51} },
			[]want{{KindMXCertExpiry, "mx2.example.com", Critical}, {KindFailureRate, "example.com", Critical}}},
		{"failure rate at 5%", func(o *Observation) { o.Reports = &ReportStats{Sessions: 1000, Failed: 50} },
			[]want{{KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"too few sessions to judge", func(o *Observation) { o.Reports = &ReportStats{Sessions: 99, Failed: 99} },
			[]want{{KindMXCertExpiry, "mx2.example.com", Critical}}},
		{"new result type", func(o *Observation) { o.Reports = &ReportStats{New: []string{"certificate-expired"}} },
			[]want{{KindMXCertExpiry, "mx2.example.com", Critical}, {KindNewResultType, "certificate-expired", Warning}}},
		{"ready in testing", func(o *Observation) {
			o.Served.Mode = sts.ModeTesting
			o.Verdict = &rollout.Verdict{Status: rollout.Ready}
		}, []want{{KindMXCertExpiry, "mx2.example.com", Critical}, {KindTestingReady, "example.com", Warning}}},
		{"not ready in testing", func(o *Observation) {
			o.Served.Mode = sts.ModeTesting
			o.Verdict = &rollout.Verdict{Status: rollout.NotReady}
		}, []want{{KindMXCertExpiry, "mx2.example.com", Critical}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observation{Domain: "example.com", Served: served, Check: healthy()}
			tt.change(&o)
			var got []want
			for _, c := range Judge(o, Thresholds{}, judgeNow) {
				got = append(got, want{c.Kind, c.Subject, c.Severity})
				if c.Message == "" || c.Fix == "" {
					t.Errorf("%s: no message or fix: %+v", c.Kind, c)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// A condition with a hold alerts once it has lasted that long; one that
// becomes critical alerts again; one that is gone resolves.
func TestReconcileHoldAndEscalation(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(judgeNow)
	store, err := reportstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), reportstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := New(Options{Store: store, Check: check.Options{Resolver: "127.0.0.1:1"}, Now: clock.Now,
		Policies: func() []policyhost.Policy { return nil }, Channels: []Channel{&Webhook{URL: "http://127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ready := Condition{Kind: KindTestingReady, Subject: "example.com", Severity: Warning, Message: "m", Fix: "f", Hold: 14 * 24 * time.Hour}
	expiring := Condition{Kind: KindMXCertExpiry, Subject: "mx1.example.com", Severity: Warning, Message: "m", Fix: "f"}
	steps := []struct {
		advance time.Duration
		conds   []Condition
		want    []string // alerts raised by this step
	}{
		{0, []Condition{ready, expiring}, []string{"mx-cert-expiry firing warning"}},
		{13 * 24 * time.Hour, []Condition{ready, expiring}, nil},
		{24 * time.Hour, []Condition{ready, expiring}, []string{"testing-ready firing warning"}},
		{time.Hour, []Condition{ready, {Kind: KindMXCertExpiry, Subject: "mx1.example.com", Severity: Critical, Message: "m", Fix: "f"}}, []string{"mx-cert-expiry firing critical"}},
		{time.Hour, []Condition{ready, expiring}, nil}, // back to warning: no alert
		{time.Hour, nil, []string{"mx-cert-expiry resolved warning", "testing-ready resolved warning"}},
		{time.Hour, []Condition{ready}, nil}, // starts again: holds again
	}
	seen := 0
	for i, st := range steps {
		clock.Advance(st.advance)
		if err := m.reconcile(ctx, "example.com", st.conds, clock.Now()); err != nil {
			t.Fatal(err)
		}
		hist, err := store.MonitorAlerts(ctx, "example.com", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for j := len(hist) - seen - 1; j >= 0; j-- {
			got = append(got, hist[j].Kind+" "+hist[j].Status+" "+hist[j].Severity)
		}
		seen = len(hist)
		slices.Sort(got)
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("step %d: alerts (-want +got):\n%s", i, diff)
		}
	}
}
