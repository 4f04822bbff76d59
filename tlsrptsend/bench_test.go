package tlsrptsend

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// BenchmarkPostfixLog parses the lines of testdata/postfix (real Postfix
// lines and their variants) over and over into an Aggregator, reporting
// lines/s. bench/tlsrpt-collect measures a generated million-line log
// against the floor of reading it.
func BenchmarkPostfixLog(b *testing.B) {
	logs, err := filepath.Glob("testdata/postfix/*.log")
	if err != nil || len(logs) == 0 {
		b.Fatalf("no logs: %v", err)
	}
	var lines [][]byte
	size := 0
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		size += len(data)
		lines = append(lines, bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))...)
	}
	p := NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow)
	agg := NewAggregator()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			p.Parse(l, agg)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLogCollector follows a log file of real Postfix lines, 24 000
// per run, into a StoreRecorder over SQLite with its position kept, as
// the daemon does, reporting lines/s: the cost of the cursor over
// BenchmarkPostfixLog.
func BenchmarkLogCollector(b *testing.B) {
	data, err := os.ReadFile("testdata/postfix/postfix-3.7-real.log")
	if err != nil {
		b.Fatal(err)
	}
	chunk := bytes.Repeat(data, 1000)
	lines := bytes.Count(chunk, []byte("\n"))
	store, err := reportstore.Open(b.Context(), "sqlite://"+filepath.Join(b.TempDir(), "reports.db"), reportstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	path := filepath.Join(b.TempDir(), "mail.log")
	rec := NewStoreRecorder(store)
	c := &LogCollector{Parser: NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow),
		Path: path, Recorder: rec, Poll: time.Millisecond}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	go c.Run(ctx)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Write(chunk)
		f.Close()
		waitRead(b, store, rec, path, nil)
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
