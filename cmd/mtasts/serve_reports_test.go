package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

const dashboardToken = "dashboard-token-0123456789"

var reportMailAddr = regexp.MustCompile(`"msg":"receiving TLS report mail","addr":"([^"]+)"`)

// TestServeReportsAndDashboard runs mtasts serve with the TLS-RPT endpoint
// (RFC 8460 §5.4) and the dashboard mounted on the policy host, POSTs a
// report over HTTPS, finds it in the store with "mtasts reports list" and
// in the dashboard with a bearer token.
func TestServeReportsAndDashboard(t *testing.T) {
	w := testworld.New(t)
	extra := "[serve.reports]\nenabled = true\nsmtp_listen = \"127.0.0.1:0\"\ndkim = \"off\"\n[serve.dashboard]\nenabled = true\ntokens = [\"" + dashboardToken + "\"]\n"
	cfg := serveConfig(t, w, extra, "example.net")
	r := startServe(t, "--config", cfg)
	client := r.client(w)
	base := "https://mta-sts.example.net"

	report, err := os.ReadFile(filepath.Join("..", "..", "tlsrpt", "testdata", "reports", "clean.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Yesterday's report, so that it falls in the dashboard's default period.
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	report = bytes.ReplaceAll(report, []byte("2024-05-01"), []byte(yesterday))
	resp, err := client.Post(base+"/tlsrpt", "application/tlsrpt+json", bytes.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /tlsrpt: %s: %s", resp.Status, body)
	}
	// The same report again is a duplicate, not a second report.
	resp, err = client.Post(base+"/tlsrpt", "application/tlsrpt+json", bytes.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("duplicate POST: %s, want 200", resp.Status)
	}

	// Report mail through the SMTP listener (RFC 8460 §5.3), in plain
	// SMTP: smtp_domain is not set, so there is no certificate for
	// STARTTLS, which serve warns about.
	c, err := smtp.Dial(reportMailListener(t, r))
	if err != nil {
		t.Fatal(err)
	}
	sendReportMail(t, c)
	if n := strings.Count(r.stderr.String(), "without STARTTLS"); n != 1 || !strings.Contains(r.stderr.String(), "smtp_domain is not set") {
		t.Errorf("%d warnings about STARTTLS, want one saying why:\n%s", n, r.stderr)
	}

	if total, sources := storedReports(t, cfg); total != 2 {
		t.Errorf("stored %d reports from %v, want 2", total, sources)
	}

	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/dashboard/", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		return roundTrip(t, client, req)
	}
	if code, page := get(dashboardToken); code != http.StatusOK || !strings.Contains(page, "example.net") {
		t.Errorf("dashboard with token: %d\n%.500s", code, page)
	}
	if _, page := get(""); strings.Contains(page, "example.net") {
		t.Errorf("dashboard without authentication shows the domain:\n%.500s", page)
	}
}

// reportMailListener returns the address of serve's report mail listener.
func reportMailListener(t *testing.T, r *serveRun) string {
	t.Helper()
	m := reportMailAddr.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no report mail listener in the log:\n%s", r.stderr)
	}
	return m[1]
}

// sendReportMail sends a TLS report mail from Google over c and quits.
func sendReportMail(t *testing.T, c *smtp.Client) {
	t.Helper()
	defer c.Close()
	mail, err := os.ReadFile(filepath.Join("..", "..", "ingest", "testdata", "mail", "google.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("noreply-smtp-tls-reporting@google.com", []string{"tlsrpt@example.net"}, bytes.NewReader(mail)); err != nil {
		t.Fatalf("sending report mail: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}
}

// storedReports returns the number of reports in the store of the serve
// configuration cfg, and their sources.
func storedReports(t *testing.T, cfg string) (int, []string) {
	t.Helper()
	db := "--db=sqlite://" + filepath.Join(filepath.Dir(cfg), "data", "reports.db")
	list := runCmd(t, nil, "", "reports", "list", "--json", db)
	var listed struct {
		Total   int `json:"total"`
		Reports []struct {
			Source string `json:"source"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil {
		t.Fatalf("reports list: %v\n%s%s", err, list.stdout, list.stderr)
	}
	var sources []string
	for _, r := range listed.Reports {
		sources = append(sources, r.Source)
	}
	return listed.Total, sources
}

// writeCertFiles writes a certificate of w's CA for name, and its key, as
// PEM files into a temporary directory and returns their paths.
func writeCertFiles(t *testing.T, w *testworld.World, name string) (certFile, keyFile string) {
	t.Helper()
	return testworld.WriteCertFiles(t, t.TempDir(), "smtp", w.CA.Valid(t, name))
}

// The report mail listener offers STARTTLS (RFC 3207) with a certificate
// from smtp_cert_file, or with the certificate of the policy host named
// by smtp_domain; a sender verifying it against the CA delivers a report,
// which is stored.
func TestServeReportMailSTARTTLS(t *testing.T) {
	w := testworld.New(t)
	certFile, keyFile := writeCertFiles(t, w, "mx.example.net")
	for _, tc := range []struct{ name, settings, host string }{
		{"certificate files", fmt.Sprintf("smtp_domain = \"mx.example.net\"\nsmtp_cert_file = %q\nsmtp_key_file = %q\n", certFile, keyFile), "mx.example.net"},
		{"policy host", "smtp_domain = \"mta-sts.example.net\"\n", "mta-sts.example.net"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := "[serve.reports]\nenabled = true\nsmtp_listen = \"127.0.0.1:0\"\ndkim = \"off\"\n" + tc.settings
			cfg := serveConfig(t, w, extra, "example.net")
			r := startServe(t, "--config", cfg)
			if !strings.Contains(r.stderr.String(), `"starttls":true`) || strings.Contains(r.stderr.String(), "without STARTTLS") {
				t.Errorf("STARTTLS not announced:\n%s", r.stderr)
			}
			c, err := smtp.DialStartTLS(reportMailListener(t, r), &tls.Config{ServerName: tc.host, RootCAs: w.RootCAs()})
			if err != nil {
				t.Fatalf("STARTTLS: %v", err)
			}
			if err := c.Hello("mail-sor-f41.google.com"); err != nil {
				t.Fatalf("EHLO over TLS: %v", err)
			}
			state, ok := c.TLSConnectionState()
			if !ok || len(state.VerifiedChains) == 0 || state.PeerCertificates[0].VerifyHostname(tc.host) != nil {
				t.Fatalf("TLS not verified for %s: %v %+v", tc.host, ok, state.PeerCertificates)
			}
			sendReportMail(t, c)
			if total, sources := storedReports(t, cfg); total != 1 || sources[0] != "smtp" {
				t.Errorf("stored %d reports from %v, want 1 from smtp", total, sources)
			}
		})
	}
}

// smtp_starttls = false: no STARTTLS, and no warning about it.
func TestServeReportMailNoSTARTTLS(t *testing.T) {
	w := testworld.New(t)
	extra := "[serve.reports]\nenabled = true\nsmtp_listen = \"127.0.0.1:0\"\ndkim = \"off\"\nsmtp_domain = \"mta-sts.example.net\"\nsmtp_starttls = false\n"
	r := startServe(t, "--config", serveConfig(t, w, extra, "example.net"))
	c, err := smtp.Dial(reportMailListener(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mail-sor-f41.google.com"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered with smtp_starttls = false")
	}
	sendReportMail(t, c)
	if strings.Contains(r.stderr.String(), "without STARTTLS") || !strings.Contains(r.stderr.String(), `"starttls":false`) {
		t.Errorf("log:\n%s", r.stderr)
	}
}

// Certificate file settings that cannot work are refused at load, with
// the line and the key.
func TestServeReportMailCertificateErrors(t *testing.T) {
	w := testworld.New(t)
	certFile, _ := writeCertFiles(t, w, "mx.example.net")
	otherCert, otherKey := writeCertFiles(t, w, "mx.example.org")
	const reports = "[serve.reports]\nenabled = true\nsmtp_listen = \"127.0.0.1:0\"\nsmtp_domain = \"mx.example.net\"\n"
	for _, tc := range []struct{ name, settings, want string }{
		{"cert without key", fmt.Sprintf("smtp_cert_file = %q\n", certFile),
			`mtasts.toml:10: serve.reports.smtp_cert_file: set without smtp_key_file`},
		{"unreadable key", fmt.Sprintf("smtp_cert_file = %q\nsmtp_key_file = \"missing.key\"\n", certFile),
			`mtasts.toml:11: serve.reports.smtp_key_file: open `},
		{"wrong name", fmt.Sprintf("smtp_cert_file = %q\nsmtp_key_file = %q\n", otherCert, otherKey),
			`mtasts.toml:10: serve.reports.smtp_cert_file: ` + otherCert + ` is not valid for mx.example.net`},
	} {
		cfg := serveConfig(t, w, reports+tc.settings, "example.net")
		r := runCmd(t, nil, "", "serve", "--check", "--config", cfg)
		if r.code != exitErrors || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: code %d, stderr %q, want %q", tc.name, r.code, r.stderr, tc.want)
		}
	}
}

func TestServeDashboardNeedsAuth(t *testing.T) {
	w := testworld.New(t)
	cfg := serveConfig(t, w, "[serve.dashboard]\nenabled = true\n", "example.net")
	r := runCmd(t, nil, "", "serve", "--check", "--config", cfg)
	if r.code == 0 || !strings.Contains(r.stderr, "no anonymous access") {
		t.Errorf("code %d, stderr %q", r.code, r.stderr)
	}
}

// roundTrip sends req with client and returns the status and body.
func roundTrip(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
