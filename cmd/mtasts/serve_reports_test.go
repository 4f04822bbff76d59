package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/testworld"
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
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, r.addr)
		},
	}}
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

	// Report mail through the SMTP listener (RFC 8460 §5.3).
	m := reportMailAddr.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no report mail listener in the log:\n%s", r.stderr)
	}
	mail, err := os.ReadFile(filepath.Join("..", "..", "ingest", "testdata", "mail", "google.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// Plain SMTP on loopback: the listener offers STARTTLS only when
	// given a certificate.
	c, err := smtp.Dial(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("noreply-smtp-tls-reporting@google.com", []string{"tlsrpt@example.net"}, bytes.NewReader(mail)); err != nil {
		t.Fatalf("sending report mail: %v", err)
	}
	c.Quit()

	db := "--db=sqlite://" + filepath.Join(filepath.Dir(cfg), "data", "reports.db")
	list := runCmd(t, nil, "", "reports", "list", "--json", db)
	var listed struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil || listed.Total != 2 {
		t.Errorf("reports list: %v, total %d\n%s%s", err, listed.Total, list.stdout, list.stderr)
	}

	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/dashboard/", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, page := get(dashboardToken); code != http.StatusOK || !strings.Contains(page, "example.net") {
		t.Errorf("dashboard with token: %d\n%.500s", code, page)
	}
	if _, page := get(""); strings.Contains(page, "example.net") {
		t.Errorf("dashboard without authentication shows the domain:\n%.500s", page)
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
