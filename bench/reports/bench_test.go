// Package reportsbench measures TLS report ingestion: importing many
// generated reports into SQLite and PostgreSQL, and parsing compared with
// a bare encoding/json decode. See bench/RESULTS.md for the command and
// the numbers.
package reportsbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/ingest"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// benchReports is the number of reports imported: MTASTS_BENCH_REPORTS,
// default 100 000.
func benchReports(b *testing.B) int {
	if s := os.Getenv("MTASTS_BENCH_REPORTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("MTASTS_BENCH_REPORTS=%q", s)
		}
		return n
	}
	return 100_000
}

// usage returns the process's peak resident set size in MiB and the CPU
// time it used so far.
func usage() (rssMiB float64, cpu time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return float64(ru.Maxrss) / 1024, time.Duration(ru.Utime.Nano() + ru.Stime.Nano()) // Maxrss is in KiB on Linux
}

// genFiles writes n generated reports gzipped, as senders send them, into
// dir, a thousand files a folder, and returns their mean size.
func genFiles(b *testing.B, dir string, n int) float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	var size int64
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range n {
		rep := genReport(rng, i)
		data, err := tlsrpt.Render(rep)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		zw.Reset(&buf)
		zw.Write(data)
		zw.Close()
		sub := filepath.Join(dir, strconv.Itoa(i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		name := tlsrpt.FilenameFor("sender.example", rep.Policies[0].Policy.Domain, rep.DateRange.Start, rep.DateRange.End, strconv.Itoa(i))
		if err := os.WriteFile(filepath.Join(sub, name), buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		size += int64(buf.Len())
	}
	return float64(size) / float64(n)
}

// benchImport writes n generated gzipped reports to files and imports
// them into the store at url as "mtasts reports import DIR" does: with
// ingest.Import, a batch of ingest.DefaultBatchSize per transaction, and
// the garbage collector set as the command sets it. Writing the files is
// not timed.
func benchImport(b *testing.B, url string) {
	n := benchReports(b)
	dir := b.TempDir()
	size := genFiles(b, dir, n)
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(ingest.ImportGCPercent))
	for b.Loop() {
		store, err := reportstore.Open(context.Background(), url, reportstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		in, err := ingest.New(ingest.Config{Store: store, DKIM: ingest.DKIMOff})
		if err != nil {
			b.Fatal(err)
		}
		rss0, cpu0 := usage()
		t0 := time.Now()
		err = in.Import(context.Background(), []string{dir}, ingest.ImportOptions{}, func(r ingest.FileResult) {
			if r.Err != nil || r.Outcome.Outcome != reportstore.Accepted {
				b.Fatalf("%s: %+v %v", r.Path, r.Outcome, r.Err)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		spent := time.Since(t0)
		rss, cpu1 := usage()
		page, err := store.ListReports(context.Background(), reportstore.ListOptions{Limit: 1})
		if err != nil || page.Total != n {
			b.Fatalf("stored %d reports, want %d (%v)", page.Total, n, err)
		}
		b.ReportMetric(slowestQuery(b, store).Seconds()*1000, "slowest-query-ms")
		store.Close()
		b.ReportMetric(float64(n)/spent.Seconds(), "reports/s")
		// Reports per second of CPU time of this process (all threads).
		b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "reports/cpu-s")
		b.ReportMetric(size, "gz-bytes/report")
		b.ReportMetric(rss, "peak-RSS-MiB")
		b.ReportMetric(rss-rss0, "rss-growth-MiB")
	}
}

// slowestQuery runs the queries a dashboard page makes over everything
// stored and returns the time of the slowest.
func slowestQuery(b *testing.B, s *reportstore.Store) time.Duration {
	ctx := context.Background()
	dom := reportstore.Filter{Domain: "domain7.example"}
	var slowest time.Duration
	for name, q := range map[string]func() error{
		"domains overview": func() error { _, err := s.Domains(ctx, reportstore.Filter{}); return err },
		"daily summary":    func() error { _, err := s.DailySummary(ctx, dom); return err },
		"report list": func() error {
			_, err := s.ListReports(ctx, reportstore.ListOptions{Filter: dom, FailuresOnly: true})
			return err
		},
		"all reports list": func() error { _, err := s.ListReports(ctx, reportstore.ListOptions{Offset: 1000}); return err },
		"failures by type": func() error { _, err := s.Failures(ctx, dom, reportstore.ByResultType, 10); return err },
		"failures by IP":   func() error { _, err := s.Failures(ctx, dom, reportstore.ByReceivingIP, 10); return err },
		"one report":       func() error { _, err := s.GetReport(ctx, 4242); return err },
	} {
		t0 := time.Now()
		if err := q(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		d := time.Since(t0)
		b.Logf("%-17s %v", name, d)
		slowest = max(slowest, d)
	}
	return slowest
}

func BenchmarkImportSQLite(b *testing.B) {
	dir := b.TempDir()
	if d := os.Getenv("MTASTS_BENCH_DIR"); d != "" {
		dir = d
	}
	benchImport(b, "sqlite://"+filepath.Join(dir, "reports.db"))
}

func BenchmarkImportPostgres(b *testing.B) {
	pg := testservers.StartPostgres(b)
	benchImport(b, pg.NewDatabase(b))
}

// mirrorReport is the RFC 8460 §4.4 JSON decoded with no checks at all:
// what a bare encoding/json decode into structs costs.
type mirrorReport struct {
	OrganizationName string `json:"organization-name"`
	DateRange        struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	ContactInfo string `json:"contact-info"`
	ReportID    string `json:"report-id"`
	Policies    []struct {
		Policy struct {
			Type    string   `json:"policy-type"`
			Strings []string `json:"policy-string"`
			Domain  string   `json:"policy-domain"`
			MXHost  []string `json:"mx-host"`
		} `json:"policy"`
		Summary struct {
			Successful int64 `json:"total-successful-session-count"`
			Failed     int64 `json:"total-failure-session-count"`
		} `json:"summary"`
		FailureDetails []struct {
			ResultType          string `json:"result-type"`
			SendingMTAIP        string `json:"sending-mta-ip"`
			ReceivingMXHostname string `json:"receiving-mx-hostname"`
			ReceivingMXHelo     string `json:"receiving-mx-helo"`
			ReceivingIP         string `json:"receiving-ip"`
			FailedSessionCount  int64  `json:"failed-session-count"`
			AdditionalInfo      string `json:"additional-information"`
			FailureReasonCode   string `json:"failure-reason-code"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// parseCorpus renders 2 000 generated reports as JSON.
func parseCorpus(b *testing.B) ([][]byte, int64) {
	rng := rand.New(rand.NewPCG(3, 4))
	var docs [][]byte
	var size int64
	for i := range 2000 {
		data, err := tlsrpt.Render(genReport(rng, i))
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
		size += int64(len(data))
	}
	return docs, size
}

// parsers are what BenchmarkParse compares: tlsrpt.Parse and bare
// encoding/json decodes of the same bytes into mirror structs and into any.
var parsers = []struct {
	name  string
	parse func([]byte) error
}{
	{"tlsrpt.Parse", func(d []byte) error {
		_, _, err := tlsrpt.Parse(bytes.NewReader(d), tlsrpt.ParseOptions{})
		return err
	}},
	{"json-struct", func(d []byte) error {
		var r mirrorReport
		return json.Unmarshal(d, &r)
	}},
	{"json-any", func(d []byte) error {
		var r any
		return json.Unmarshal(d, &r)
	}},
}

// BenchmarkParse parses the same JSON reports with each of parsers in
// turn, many rounds, and reports each one's MB/s over all rounds and the
// median over rounds of tlsrpt.Parse's speed as a share of each bare
// decode's: alternating in rounds keeps the ratio steady on a busy machine.
func BenchmarkParse(b *testing.B) {
	docs, size := parseCorpus(b)
	spent := make([]time.Duration, len(parsers))
	var ratios [][]float64
	for b.Loop() {
		round := make([]time.Duration, len(parsers))
		for i, p := range parsers {
			t0 := time.Now()
			for _, d := range docs {
				if err := p.parse(d); err != nil {
					b.Fatal(err)
				}
			}
			round[i] = time.Since(t0)
			spent[i] += round[i]
		}
		r := make([]float64, len(parsers))
		for i := range parsers {
			r[i] = round[i].Seconds() / round[0].Seconds()
		}
		ratios = append(ratios, r)
	}
	for i, p := range parsers {
		b.ReportMetric(float64(size)*float64(len(ratios))/spent[i].Seconds()/1e6, p.name+"-MB/s")
		if i > 0 {
			col := make([]float64, len(ratios))
			for j, r := range ratios {
				col[j] = r[i]
			}
			slices.Sort(col)
			b.ReportMetric(col[len(col)/2], "ratio-vs-"+p.name)
		}
	}
}
