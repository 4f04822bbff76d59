package serve

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/reportstore"
)

// The sessions metric counts the stored reports' sessions by served domain
// and result, and only for served domains.
func TestSessionsCollector(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("..", "tlsrpt", "testdata", "reports", "clean.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	report = bytes.ReplaceAll(report, []byte("2024-05-01"), []byte(now.Format("2006-01-02")))
	file := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(file, report, 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "reports.db")
	store, err := reportstore.Open(context.Background(), db, reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	in, err := ingest.New(ingest.Config{Store: store, DKIM: ingest.DKIMOff})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Import(context.Background(), []string{file}, ingest.ImportOptions{}, func(r ingest.FileResult) {
		if r.Err != nil {
			t.Errorf("import: %v", r.Err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	overview, err := store.Domains(context.Background(), reportstore.Filter{Domain: "example.net"})
	if err != nil || len(overview) != 1 {
		t.Fatalf("overview: %v %v", overview, err)
	}
	c := newSessionsCollector(store, func() []string { return []string{"example.net", "unserved.example"} }, time.Now, slog.New(slog.DiscardHandler))
	out, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "mtasts_tlsrpt_sessions")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	want := `mtasts_tlsrpt_sessions{domain="example.net",result="successful"} ` + strconv.FormatInt(overview[0].Successful, 10)
	if !strings.Contains(text, want) {
		t.Errorf("metrics lack %q:\n%s", want, text)
	}
	if overview[0].Failed > 0 && !strings.Contains(text, `domain="example.net",result="`) {
		t.Errorf("no failure series:\n%s", text)
	}
	if !strings.Contains(text, `domain="unserved.example",result="successful"} 0`) || strings.Contains(text, "other.example") {
		t.Errorf("unexpected series:\n%s", text)
	}
}
