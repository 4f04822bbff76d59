package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// TestServeRefusesHugeCount repeats the probe that broke the dashboard:
// a report with failed-session-count 2^63-1 POSTed to /tlsrpt of a
// running mtasts serve. It is refused with a reason, the dashboard keeps
// answering, and a stored report is deleted with the dashboard's form.
func TestServeRefusesHugeCount(t *testing.T) {
	w := testworld.New(t)
	extra := "[serve.reports]\nenabled = true\ndkim = \"off\"\n[serve.dashboard]\nenabled = true\ntokens = [\"" + dashboardToken + "\"]\n"
	cfg := serveConfig(t, w, extra, "example.net")
	r := startServe(t, "--config", cfg)
	client := r.client(w)
	base := "https://mta-sts.example.net"
	do := func(method, path, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+dashboardToken)
		return roundTrip(t, client, req)
	}

	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	huge := strings.ReplaceAll(hugeReport, "2026-11-20", yesterday)
	code, body := do(http.MethodPost, "/tlsrpt", "application/tlsrpt+json", huge)
	if code != http.StatusBadRequest || !strings.Contains(body, "failed-session-count") && !strings.Contains(body, "total-failure-session-count") {
		t.Errorf("POST of the huge report: %d %s, want 400 saying which count", code, body)
	}
	fine := strings.ReplaceAll(strings.ReplaceAll(huge, "9223372036854775807", "3"), "huge-1", "fine-1")
	if code, body := do(http.MethodPost, "/tlsrpt", "application/tlsrpt+json", fine); code != http.StatusCreated {
		t.Fatalf("POST of a report: %d %s", code, body)
	}
	for _, page := range []string{"/dashboard/", "/dashboard/domains/example.com", "/dashboard/reports/1"} {
		if code, body := do(http.MethodGet, page, "", ""); code != http.StatusOK {
			t.Errorf("GET %s: %d\n%.500s", page, code, body)
		}
	}
	form := url.Values{"confirm": {"yes"}}.Encode()
	if code, body := do(http.MethodPost, "/dashboard/reports/1/delete", "application/x-www-form-urlencoded", form); code != http.StatusOK || !strings.Contains(body, "was deleted") {
		t.Errorf("delete: %d\n%.500s", code, body)
	}
	if total, _ := storedReports(t, cfg); total != 0 {
		t.Errorf("%d reports stored after deleting the only one", total)
	}
}

// client returns an HTTPS client that trusts w's CA and connects to the
// HTTPS listener of r, whatever host a URL names.
func (r *serveRun) client(w *testworld.World) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, r.addr)
		},
	}}
}
