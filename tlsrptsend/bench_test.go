package tlsrptsend

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
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
