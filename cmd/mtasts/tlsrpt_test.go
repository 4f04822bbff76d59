package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// postfixLog is real Postfix 3.7 log (tlsrptsend/testdata), on the day
// before testNow: a verified session with good.test (no policy, no
// _smtp._tls record), an expired certificate at expired.test's MX, and
// two.test's sessions (no policy: every session a success).
const postfixLog = `2026-11-25T10:32:25+0000 sender postfix/smtp[15967]: Verified TLS connection established to mx.good.test[127.1.0.1]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: server certificate verification failed for mx.expired.test[127.1.0.2]:25: certificate has expired
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: Untrusted TLS connection established to mx.expired.test[127.1.0.2]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
2026-11-25T10:32:25+0000 sender postfix/smtp[15967]: 4DE5F9858B3: to=<bob@good.test>, relay=mx.good.test[127.1.0.1]:25, delay=0.29, delays=0.09/0.06/0.14/0.02, dsn=2.0.0, status=sent (250 2.0.0 OK: queued)
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: 5D8A3985922: to=<bob@expired.test>, relay=mx.expired.test[127.1.0.2]:25, delay=0.21, delays=0.06/0.13/0.02/0, dsn=4.7.5, status=deferred (Server certificate not verified)
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: certificate verification failed for mx1.two.test[127.1.0.7]:25: self-signed certificate
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: Untrusted TLS connection established to mx1.two.test[127.1.0.7]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: 82AA7985926: Server certificate not verified
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: Verified TLS connection established to mx2.two.test[127.1.0.8]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256
2026-11-25T10:32:25+0000 sender postfix/smtp[15979]: 82AA7985926: to=<bob@two.test>, relay=mx2.two.test[127.1.0.8]:25, delay=0.19, delays=0.08/0.03/0.07/0, dsn=2.0.0, status=sent (250 2.0.0 OK: queued)
`

// ruaServer is an https rua that keeps the reports posted to it.
type ruaServer struct {
	mu      sync.Mutex
	reports [][]byte
}

func (s *ruaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reports = append(s.reports, body)
	s.mu.Unlock()
}

// TestTlsrptCollectSend: collect reads Postfix's log with the policies
// fetched from the test world, pending shows the day to send, send
// delivers expired.test's report by HTTPS and two.test's by mail to its
// rua domain's MX, skipping good.test without a record, and a second send
// sends nothing (RFC 8460 §4, §5).
func TestTlsrptCollectSend(t *testing.T) {
	w := fixedWorld(t)
	w.PolicyDomain("expired.test", "version: STSv1\nmode: testing\nmx: mx.expired.test\nmax_age: 86400\n")
	rua := &ruaServer{}
	w.HTTPSHost("reports.expired.test").SetHandler(rua)
	w.DNS.TXT("_smtp._tls.expired.test", "v=TLSRPTv1; rua=https://reports.expired.test/tlsrpt")
	w.DNS.TXT("_smtp._tls.two.test", "v=TLSRPTv1; rua=mailto:tlsrpt@rua.test")
	w.DNS.Add("rua.test. MX 10 mx.rua.test.")
	mx := w.SMTP("mx.rua.test", testworld.SMTPOptions{})

	db := "sqlite://" + filepath.Join(t.TempDir(), "reports.db")
	// Suppressed, then taken off the list: it gets its report.
	if r := runCmd(t, w, "", "tlsrpt", "suppress", "--db", db, "two.test", "--reason", "asked us"); r.code != 0 {
		t.Fatalf("suppress: code %d, stderr %q", r.code, r.stderr)
	}
	if r := runCmd(t, w, "", "tlsrpt", "suppress", "--db", db); r.stdout != "two.test                                  by hand, 0 failures in a row: asked us\n" {
		t.Errorf("suppress list: %q", r.stdout)
	}
	if r := runCmd(t, w, "", "tlsrpt", "suppress", "--db", db, "--remove", "two.test"); r.code != 0 {
		t.Fatalf("suppress --remove: code %d, stderr %q", r.code, r.stderr)
	}
	netArgs := []string{"--db", db, "--resolver", w.Resolver(), "--ca-file", w.CAFile()}
	r := runCmd(t, w, postfixLog, append([]string{"tlsrpt", "collect", "--postfix-log", "-", "--sending-ip", "192.0.2.1"}, netArgs...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "4 sessions recorded") {
		t.Fatalf("collect: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = runCmd(t, w, "", "tlsrpt", "pending", "--json", "--db", db)
	var pending pendingJSON
	if err := json.Unmarshal([]byte(r.stdout), &pending); r.code != 0 || err != nil {
		t.Fatalf("pending: code %d, %v, stderr %q", r.code, err, r.stderr)
	}
	want := []pendingDayJSON{
		{Day: "2026-11-25", Domain: "expired.test", Failed: 1, State: "to send"},
		{Day: "2026-11-25", Domain: "good.test", Successful: 1, State: "to send"},
		{Day: "2026-11-25", Domain: "two.test", Successful: 2, State: "to send"},
	}
	if len(pending.Days) != len(want) || len(pending.Deliveries) != 0 {
		t.Fatalf("pending = %+v, want days %+v", pending, want)
	}
	for i := range want {
		if pending.Days[i] != want[i] {
			t.Errorf("pending day %d = %+v, want %+v", i, pending.Days[i], want[i])
		}
	}

	send := append([]string{"tlsrpt", "send", "--date", "2026-11-25", "--now", "--json", "--org", "Test Org",
		"--contact", "tlsrpt@sender.test", "--submitter", "sender.test", "--helo", "sender.test"}, netArgs...)
	dry := runCmd(t, w, "", append(send, "--dry-run")...)
	if dry.code != 0 || len(rua.reports) != 0 || len(mx.Messages()) != 0 || !strings.Contains(dry.stdout, `"dry_run": true`) {
		t.Fatalf("dry run: code %d, %d posts, %d mails, stdout %s, stderr %q", dry.code, len(rua.reports), len(mx.Messages()), dry.stdout, dry.stderr)
	}
	r = runCmd(t, w, "", send...)
	var out sendJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil {
		t.Fatalf("send: code %d, %v, stdout %s, stderr %q", r.code, err, r.stdout, r.stderr)
	}
	if !out.Built || len(out.Reports) != 2 || len(out.Skipped) != 1 || out.Skipped[0].Domain != "good.test" || out.Deliveries.Delivered != 2 {
		t.Errorf("send = %+v", out)
	}
	if len(rua.reports) != 1 {
		t.Fatalf("%d reports posted, want 1", len(rua.reports))
	}
	rep, diags, err := tlsrpt.Parse(bytes.NewReader(rua.reports[0]), tlsrpt.ParseOptions{})
	if err != nil || len(diags) != 0 {
		t.Fatalf("report posted: %v, %+v", err, diags)
	}
	p := rep.Policies[0]
	fd := p.FailureDetails
	if p.Policy.Type != tlsrpt.PolicySTS || p.Summary != (tlsrpt.Summary{Failed: 1}) || len(fd) != 1 ||
		fd[0].ResultType != tlsrpt.ResultCertificateExpired || fd[0].ReceivingMXHostname != "mx.expired.test" ||
		fd[0].ReceivingIP != netip.MustParseAddr("127.1.0.2") || fd[0].SendingMTAIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("expired.test's report: %+v", p)
	}
	msgs := mx.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d report mails, want 1", len(msgs))
	}
	mr, err := tlsrpt.ParseMessage(bytes.NewReader(msgs[0].Data), tlsrpt.ParseOptions{})
	if err != nil || mr.Domain != "two.test" || mr.Report.Policies[0].Summary != (tlsrpt.Summary{Successful: 2}) {
		t.Errorf("report mail: %v, %+v", err, mr)
	}

	r = runCmd(t, w, "", send...)
	if r.code != 0 || len(rua.reports) != 1 || len(mx.Messages()) != 1 || !strings.Contains(r.stdout, `"built": false`) {
		t.Errorf("second send: code %d, %d posts, %d mails, stdout %s", r.code, len(rua.reports), len(mx.Messages()), r.stdout)
	}
	if r = runCmd(t, w, "", "tlsrpt", "pending", "--db", db); r.stdout != "nothing to send\n" {
		t.Errorf("pending after send: %q", r.stdout)
	}
}

// TestTlsrptSendUsage: what send refuses before doing anything.
func TestTlsrptSendUsage(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "reports.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--contact", "a@b.test", "--submitter", "b.test"}, "--org is required"},
		{[]string{"--org", "O", "--contact", "a@b.test", "--submitter", "b.test", "--date", "26-11-2026"}, "want YYYY-MM-DD"},
		{[]string{"--org", "O", "--contact", "a@b.test", "--submitter", "b.test", "--date", "2026-11-26"}, "the day is not over"},
		{[]string{"--org", "O", "--contact", "a@b.test", "--submitter", "b.test", "--dkim-key", "/nonexistent"}, "--dkim-selector"},
	} {
		r := runCmd(t, nil, "", append([]string{"tlsrpt", "send", "--db", db}, tc.args...)...)
		if r.code != exitCannotRun || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("send %q: code %d, stderr %q; want 3 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// Another sender at work: exit status 2.
	store, err := reportstore.Open(t.Context(), db, reportstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if ok, err := store.AcquireLease(t.Context(), tlsrptsend.LeaseName, "another", time.Hour); !ok || err != nil {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	r := runCmd(t, nil, "", "tlsrpt", "send", "--db", db, "--org", "O", "--contact", "a@b.test", "--submitter", "b.test", "--now")
	if r.code != exitErrors || !strings.Contains(r.stderr, "another sender") {
		t.Errorf("send while another holds the lease: code %d, stderr %q", r.code, r.stderr)
	}
	if r := runCmd(t, nil, "", "tlsrpt", "collect", "--db", db); r.code != exitCannotRun || !strings.Contains(r.stderr, "--postfix-log") {
		t.Errorf("collect without --postfix-log: code %d, stderr %q", r.code, r.stderr)
	}
}
