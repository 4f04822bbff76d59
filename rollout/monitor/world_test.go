package monitor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testclock"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/rollout"
	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

const examplePolicy = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 604800\n"

// watch is example.com published in a test world in mode enforce, with
// its MX hosts mx1 and mx2, a report store, and the three kinds of alert
// receiver.
type watch struct {
	w     *testworld.World
	store *reportstore.Store
	clock *testclock.Clock
	host  *testworld.HTTPSHost
	mail  *mailSink
	hook  *hookSink
	slack *hookSink
	am    *amSink

	mu     sync.Mutex
	id     string // the id the server serves
	policy string // the policy it serves
	// readiness, if set, gives the thresholds of the readiness verdict.
	readiness func(string) rollout.Thresholds
	reg       *prometheus.Registry // of the last monitor made
}

func newWatch(t *testing.T, storeURL string) *watch {
	t.Helper()
	w := testworld.New(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
	w.SMTP("mx1.example.com", testworld.SMTPOptions{})
	w.SMTP("mx2.example.com", testworld.SMTPOptions{})
	w.DNS.TXT("_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com")
	host := w.PolicyDomain("example.com", examplePolicy)
	// The checks judge certificates by the real time, which the world's
	// CA issues them for; the clock places alerts and report windows.
	clock := testclock.New(time.Now().UTC().Truncate(time.Second))
	if storeURL == "" {
		storeURL = "sqlite://" + filepath.Join(t.TempDir(), "reports.db")
	}
	store, err := reportstore.Open(context.Background(), storeURL, reportstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &watch{w: w, store: store, clock: clock, host: host, id: w.PolicyID("example.com"), policy: examplePolicy,
		mail: newMailSink(t, w), hook: newHookSink(t), slack: newHookSink(t), am: newAMSink(t, clock.Now)}
}

// policies is what the server serves.
func (s *watch) policies() []policyhost.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []policyhost.Policy{{Domain: "example.com", ID: s.id, Text: []byte(s.policy)}}
}

// monitor returns a new Monitor over the watch, as a server started anew
// would make it, with the thresholds th.
func (s *watch) monitor(t *testing.T, th ...Thresholds) *Monitor {
	t.Helper()
	th = append(th, Thresholds{MinSessions: 100, FailureRate: 0.05})
	s.reg = prometheus.NewRegistry()
	m, err := New(Options{
		Registry: s.reg,
		Store:    s.store,
		Check:    check.Options{Resolver: s.w.Resolver(), RootCAs: s.w.RootCAs(), Dial: s.w.DialContext, Timeout: 10 * time.Second},
		Policies: s.policies,
		Channels: []Channel{
			&Email{From: "mtasts@example.net", To: []string{"postmaster@example.net"}, Relay: &tlsrptsend.Relay{Addr: s.mail.addr,
				Username: sinkUser, Password: sinkPassword, TLSConfig: &tls.Config{RootCAs: s.w.RootCAs(), ServerName: "submit.example.net"}}},
			&Webhook{Index: 0, URL: s.hook.srv.URL},
			&Webhook{Index: 1, URL: s.slack.srv.URL, Slack: true},
			&Alertmanager{Index: 0, URL: s.am.srv.URL},
		},
		Thresholds: th[0],
		Readiness:  s.readiness,
		Now:        s.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (s *watch) round(t *testing.T, m *Monitor) {
	t.Helper()
	if err := m.Round(context.Background()); err != nil {
		t.Fatalf("round: %v", err)
	}
}

// tally is what every receiver got so far.
type tally struct {
	mails, hooks, slacks, amStarted, amResolved int
}

func (s *watch) tally() tally {
	started, resolved := s.am.counts()
	return tally{mails: len(s.mail.messages()), hooks: len(s.hook.received()), slacks: len(s.slack.received()),
		amStarted: len(started), amResolved: len(resolved)}
}

// addReport stores a report of org for example.com on the clock's day
// minus daysAgo, with ok successes and failed failures of result type rt
// at mx2.
func (s *watch) addReport(t *testing.T, org string, daysAgo int, ok, failed int64, rt tlsrpt.ResultType) {
	t.Helper()
	start := s.clock.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -daysAgo)
	pr := tlsrpt.PolicyResult{
		Policy:  tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com", Strings: strings.Split(strings.TrimSpace(examplePolicy), "\n"), MXHosts: []string{"mx1.example.com", "mx2.example.com"}},
		Summary: tlsrpt.Summary{Successful: ok, Failed: failed},
	}
	if failed > 0 {
		pr.FailureDetails = []tlsrpt.FailureDetail{{ResultType: rt, SendingMTAIP: netip.MustParseAddr("192.0.2.7"),
			ReceivingMXHostname: "mx2.example.com", ReceivingIP: netip.MustParseAddr("192.0.2.25"), FailedSessionCount: failed}}
	}
	rep := &tlsrpt.Report{OrganizationName: org, ReportID: fmt.Sprintf("%s-%d-%d-%d", org, daysAgo, ok, failed), ContactInfo: "tlsrpt@" + org,
		DateRange: tlsrpt.DateRange{Start: start, End: start.Add(24*time.Hour - time.Second)}, Policies: []tlsrpt.PolicyResult{pr}}
	raw, err := tlsrpt.Render(rep)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.store.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON, Source: reportstore.SourceFile, Origin: "test"})
	if err != nil || res.Outcome != reportstore.Accepted {
		t.Fatalf("storing a report: %+v, %v", res, err)
	}
}

// TestMonitorWorld breaks example.com in each way the monitor watches,
// one at a time: each breakage raises exactly one alert on every channel,
// a server restarted meanwhile sends nothing again, and the fix sends
// exactly one resolution.
func TestMonitorWorld(t *testing.T) {
	s := newWatch(t, "")
	// A few certificate-expired failures, long ago: the result type is
	// known, so only the rate can alert.
	s.addReport(t, "old.example", 20, 1000, 1, tlsrpt.ResultCertificateExpired)

	tests := []struct {
		name   string
		kind   Kind
		sev    Severity
		break_ func(t *testing.T)
		fix    func(t *testing.T)
	}{
		{
			name: "policy host certificate expiring", kind: KindPolicyCertExpiry, sev: Critical,
			break_: func(t *testing.T) {
				s.host.SetCert(s.w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"mta-sts.example.com"}, NotAfter: time.Now().Add(48 * time.Hour)}))
			},
			fix: func(t *testing.T) { s.host.SetCert(s.w.CA.Valid(t, "mta-sts.example.com")) },
		},
		{
			name: "MX host not covered", kind: KindMXNotCovered, sev: Critical,
			break_: func(t *testing.T) {
				s.w.SMTP("mx3.example.com", testworld.SMTPOptions{})
				s.w.DNS.Add("example.com. MX 30 mx3.example.com.")
			},
			fix: func(t *testing.T) {
				s.w.DNS.Remove("example.com", dns.TypeMX)
				s.w.DNS.Add("example.com. MX 10 mx1.example.com.", "example.com. MX 20 mx2.example.com.")
			},
		},
		{
			name: "TXT id not the served one", kind: KindSTSRecordID, sev: Warning,
			break_: func(t *testing.T) {
				s.mu.Lock()
				s.id = "20261207newer"
				s.mu.Unlock()
			},
			fix: func(t *testing.T) {
				s.w.DNS.Remove("_mta-sts.example.com", dns.TypeTXT)
				s.w.DNS.TXT("_mta-sts.example.com", "v=STSv1; id=20261207newer;")
			},
		},
		{
			name: "TXT removed", kind: KindSTSRecordMissing, sev: Critical,
			break_: func(t *testing.T) { s.w.DNS.Remove("_mta-sts.example.com", dns.TypeTXT) },
			fix: func(t *testing.T) {
				s.w.DNS.TXT("_mta-sts.example.com", "v=STSv1; id=20261207newer;")
			},
		},
		{
			name: "failure rate", kind: KindFailureRate, sev: Critical,
			break_: func(t *testing.T) { s.addReport(t, "big.example", 0, 900, 100, tlsrpt.ResultCertificateExpired) },
			fix:    func(t *testing.T) { s.addReport(t, "huge.example", 0, 100000, 0, "") },
		},
		{
			// A few failures of a kind never reported before, well under
			// the rate threshold; once they are older than the failure
			// window they are known.
			name: "new result type", kind: KindNewResultType, sev: Warning,
			break_: func(t *testing.T) { s.addReport(t, "new.example", 0, 5000, 3, tlsrpt.ResultSTARTTLSNotSupported) },
			fix:    func(t *testing.T) { s.clock.Advance(3 * 24 * time.Hour) },
		},
	}

	m := s.monitor(t)
	s.round(t, m)
	if got := s.tally(); got != (tally{}) {
		t.Fatalf("alerts for a healthy domain: %+v; open: %+v", got, mustConditions(t, s.store))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.tally()
			tt.break_(t)
			s.round(t, m)
			s.round(t, m) // still broken: nothing new
			m = s.monitor(t)
			s.round(t, m) // a restart: nothing new
			got := s.tally()
			want := tally{before.mails + 1, before.hooks + 1, before.slacks + 1, before.amStarted + 1, before.amResolved}
			if got != want {
				t.Fatalf("after the breakage: %+v, want %+v; open: %+v", got, want, mustConditions(t, s.store))
			}
			hooks := s.hook.received()
			if k, st := alertKind(hooks[len(hooks)-1]); k != string(tt.kind) || st != reportstore.AlertFiring {
				t.Errorf("webhook got %s %s, want %s firing", k, st, tt.kind)
			}
			if sev := hooks[len(hooks)-1]["severity"]; sev != string(tt.sev) {
				t.Errorf("severity %v, want %s", sev, tt.sev)
			}
			mails := s.mail.messages()
			if mail := mails[len(mails)-1]; !strings.Contains(mail, "Subject: [mtasts "+strings.ToUpper(string(tt.sev))+"] example.com: "+string(tt.kind)) {
				t.Errorf("mail:\n%s", mail)
			}
			slacks := s.slack.received()
			if text, _ := slacks[len(slacks)-1]["text"].(string); !strings.Contains(text, string(tt.kind)) {
				t.Errorf("slack text %q", text)
			}

			tt.fix(t)
			s.round(t, m)
			s.round(t, m)
			got = s.tally()
			want = tally{before.mails + 2, before.hooks + 2, before.slacks + 2, before.amStarted + 1, before.amResolved + 1}
			if got != want {
				t.Fatalf("after the fix: %+v, want %+v; open: %+v", got, want, mustConditions(t, s.store))
			}
			hooks = s.hook.received()
			if k, st := alertKind(hooks[len(hooks)-1]); k != string(tt.kind) || st != reportstore.AlertResolved {
				t.Errorf("webhook got %s %s, want %s resolved", k, st, tt.kind)
			}
			if open := mustConditions(t, s.store); len(open) != 0 {
				t.Errorf("open conditions after the fix: %+v", open)
			}
		})
	}
	hist, err := s.store.MonitorAlerts(context.Background(), "example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2*len(tests) {
		t.Errorf("history holds %d alerts, want %d", len(hist), 2*len(tests))
	}
	for _, a := range hist {
		if len(a.Pending) != 0 {
			t.Errorf("alert %d still pending for %v", a.ID, a.Pending)
		}
	}
	checkMetricsAndContrib(t, s.reg)
}

func mustConditions(t *testing.T, st *reportstore.Store) []reportstore.MonitorCondition {
	t.Helper()
	cs, err := st.MonitorConditions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestMonitorTestingReady serves example.com in mode testing with two
// organisations reporting only successes for eight days: the readiness
// verdict is ready, and once it has been for ReadyFor the monitor alerts
// once; promoting the domain resolves it.
func TestMonitorTestingReady(t *testing.T) {
	s := newWatch(t, "")
	s.policy = strings.Replace(examplePolicy, "mode: enforce", "mode: testing", 1)
	for _, org := range []string{"Google Inc.", "Microsoft Corporation"} {
		for day := 1; day <= 8; day++ {
			s.addReport(t, org, day, 100, 0, "")
		}
	}
	th := Thresholds{ReadyFor: 48 * time.Hour}
	// Where [rollout] asks for three organisations, two are not enough.
	s.readiness = func(string) rollout.Thresholds { return rollout.Thresholds{MinOrganizations: 3} }
	s.round(t, s.monitor(t, th))
	if open := mustConditions(t, s.store); len(open) != 0 {
		t.Fatalf("open conditions with three organisations asked for: %+v", open)
	}
	s.readiness = nil
	m := s.monitor(t, th)
	s.round(t, m)
	open := mustConditions(t, s.store)
	if len(open) != 1 || open[0].Kind != string(KindTestingReady) || open[0].Fired {
		t.Fatalf("open conditions: %+v, want testing-ready not alerted yet", open)
	}
	if got := s.tally(); got != (tally{}) {
		t.Fatalf("alerts before the hold passed: %+v", got)
	}
	doms, err := s.store.MonitorDomains(context.Background(), "example.com")
	if err != nil || len(doms) != 1 || doms[0].Verdict != "ready" || doms[0].Mode != "testing" {
		t.Fatalf("last check: %+v, %v", doms, err)
	}

	s.clock.Advance(48 * time.Hour)
	s.round(t, m)
	s.round(t, s.monitor(t, th))
	if got := s.tally(); got != (tally{1, 1, 1, 1, 0}) {
		t.Fatalf("alerts once ready for 2 days: %+v; open: %+v", got, mustConditions(t, s.store))
	}
	if k, _ := alertKind(s.hook.received()[0]); k != string(KindTestingReady) {
		t.Errorf("alert of %s, want testing-ready", k)
	}

	s.mu.Lock()
	s.policy = examplePolicy // promoted
	s.mu.Unlock()
	s.round(t, m)
	if got := s.tally(); got != (tally{2, 2, 2, 1, 1}) {
		t.Errorf("after the promotion: %+v", got)
	}
}
