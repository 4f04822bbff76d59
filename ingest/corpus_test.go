package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/corpus"
	"github.com/mtasts/mtasts/reportstore"
)

// TestCorpus imports the shared corpus of real-world reports, which lives
// beside the repository and is never copied into it ($TLSRPT_CORPUS names
// another place), and logs what became of each file. Every report and
// report mail there must be accepted; anything else must be quarantined
// with a reason.
func TestCorpus(t *testing.T) {
	dir := corpus.Dir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	var paths []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext == ".json" || ext == ".eml" || ext == ".gz" {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	in, _ := newIngester(t, Config{DKIM: DKIMOff})
	counts := map[string]int{}
	err = in.Import(t.Context(), paths, ImportOptions{}, func(r FileResult) {
		name := filepath.Base(r.Path)
		if r.Err != nil {
			t.Errorf("%s: not stored: %v", name, r.Err)
			return
		}
		counts[string(r.Outcome.Outcome)]++
		var codes []string
		for _, d := range r.Diagnostics {
			codes = append(codes, string(d.Code))
		}
		t.Logf("%-60s %-11s id %-3d %s %s", name, r.Outcome.Outcome, r.ID, strings.Join(codes, ","), r.Reason)
		if r.Outcome.Outcome == reportstore.Quarantined {
			t.Errorf("%s quarantined: %s", name, r.Reason)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files: %v", len(paths), counts)
}
