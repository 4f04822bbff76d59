package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/reportstore"
)

// importAll imports paths and returns "path outcome" lines.
func importAll(t *testing.T, in *Ingester, paths []string, opts ImportOptions) ([]string, []FileResult) {
	t.Helper()
	var lines []string
	var results []FileResult
	err := in.Import(context.Background(), paths, opts, func(r FileResult) {
		results = append(results, r)
		rel := strings.TrimPrefix(r.Path, "testdata/")
		switch {
		case r.Err != nil:
			lines = append(lines, rel+" error")
		default:
			lines = append(lines, rel+" "+string(r.Outcome.Outcome))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines, results
}

func TestImport(t *testing.T) {
	for _, batch := range []int{1, 3, 0} {
		in, store := newIngester(t, Config{})
		var progress []int
		lines, results := importAll(t, in, []string{"testdata/reports", "testdata/mail", "testdata/mbox/tlsrpt.mbox", "testdata/maildir", "testdata/bad", "testdata/missing"},
			ImportOptions{BatchSize: batch, Progress: func(done, total int) { progress = append(progress, done*100+total) }})
		want := []string{
			"missing error",
			"reports/google.com!example.com!1795132800!1795219199!001.json accepted",
			"reports/microsoft.com!example.com!1795132800!1795219199!134090784000000000.json.gz accepted",
			"mail/forwarded.eml duplicate",
			"mail/google.eml duplicate",
			"mail/mailru.eml accepted",
			"mail/microsoft.eml duplicate",
			"mbox/tlsrpt.mbox#1 duplicate",
			"mbox/tlsrpt.mbox#2 duplicate",
			"mbox/tlsrpt.mbox#3 quarantined",
			"maildir/.TLSRPT/cur/1795216869.M789P012.mx1:2,S duplicate",
			"maildir/.TLSRPT/new/1795238033.M123P456.mx1 duplicate",
			"bad/newsletter.eml quarantined",
			"bad/truncated.json.gz quarantined",
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("batch %d: import (-want +got):\n%s", batch, diff)
		}
		if len(progress) != 11 || progress[10] != 1111 {
			t.Errorf("progress %v", progress)
		}
		for _, r := range results {
			if r.Outcome != nil && r.Outcome.Outcome == reportstore.Quarantined && r.Reason == "" {
				t.Errorf("%s quarantined without reason", r.Path)
			}
		}
		q, err := store.ListQuarantine(context.Background(), reportstore.QuarantineOptions{})
		if err != nil || q.Total != 3 {
			t.Fatalf("quarantine %+v, %v", q, err)
		}
		// The newsletter of the mbox is kept as it was before mboxrd
		// escaping.
		news, err := store.GetQuarantined(context.Background(), q.Entries[2].ID)
		if err != nil || !strings.Contains(string(news.Raw), "\nFrom now on") || !strings.Contains(news.Reason, "no TLS report") {
			t.Errorf("mbox newsletter %q: %q, %v", news.Reason, news.Raw, err)
		}
	}
}

func TestImportIntoClosedStore(t *testing.T) {
	in, store := newIngester(t, Config{})
	lines, _ := importAll(t, in, []string{"testdata/reports"}, ImportOptions{})
	store.Close()
	lines2, results := importAll(t, in, []string{"testdata/mail/mailru.eml"}, ImportOptions{})
	if len(lines) != 2 || lines2[0] != "mail/mailru.eml error" || !errors.Is(results[0].Err, ErrTemporary) {
		t.Errorf("import into closed store: %v, %v", lines2, results[0].Err)
	}
}

func TestImportLargeMboxMail(t *testing.T) {
	in, _ := newIngester(t, Config{MaxSize: 1000})
	dir := t.TempDir()
	mbox := "From a@b Thu Nov 20 00:00:00 2026\nSubject: big\n\n" + strings.Repeat("x", 80<<10) + "\n" +
		"From a@b Thu Nov 20 00:00:00 2026\nSubject: small\n\nhello\n"
	path := filepath.Join(dir, "big.mbox")
	if err := os.WriteFile(path, []byte(mbox), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, _ := importAll(t, in, []string{path}, ImportOptions{})
	want := []string{path + "#1 error", path + "#2 quarantined"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
