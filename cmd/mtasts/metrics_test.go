package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

var listeningMetrics = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)","proto":"metrics"`)

// mtasts serve with reports exposes every metric docs/metrics.md lists for
// the reports it receives and stores, once one was POSTed, and none it
// does not list. (package policyhost tests those of the policy host.)
func TestServeMetricsDocumented(t *testing.T) {
	w := testworld.New(t)
	cfg := serveConfig(t, w, "[serve.reports]\nenabled = true\ndkim = \"off\"\n", "example.net")
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, bytes.Replace(text, []byte(`listen_metrics = ""`), []byte(`listen_metrics = "127.0.0.1:0"`), 1), 0o644)
	r := startServe(t, "--config", cfg)
	report, err := os.ReadFile(filepath.Join("..", "..", "tlsrpt", "testdata", "reports", "clean.json"))
	if err != nil {
		t.Fatal(err)
	}
	report = bytes.ReplaceAll(report, []byte("2024-05-01"), []byte(time.Now().UTC().Format("2006-01-02")))
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, r.addr)
		},
	}}
	resp, err := client.Post("https://mta-sts.example.net/tlsrpt", "application/tlsrpt+json", bytes.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /tlsrpt: %s", resp.Status)
	}
	m := listeningMetrics.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", r.stderr)
	}
	for _, section := range []string{"ingest", "serve"} {
		testenv.CheckMetrics(t, "http://"+m[1]+"/metrics", section)
	}
	if t.Failed() {
		t.Logf("serve log:\n%s", r.stderr)
	}
}
