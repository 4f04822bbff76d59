// Package webbench times the pages of the TLS-RPT dashboard (package web)
// over a SQLite store of 100 000 generated reports: each page is fetched
// over loopback HTTP, as a browser would, and its latency reported as
// mean, p50, p95 and maximum. See bench/RESULTS.md for the command and the
// numbers; the target is under 200 ms a page.
//
// Environment:
//
//	MTASTS_BENCH_REPORTS  reports in the store (default 100000)
//	MTASTS_BENCH_DOMAINS  policy domains they cover (default 40: about
//	                      320 reports a day, so 100 000 span ten months;
//	                      400 puts them all in the last month)
//	MTASTS_BENCH_DB       SQLite file to keep the store in; an existing
//	                      file is used as it is (default: a fresh
//	                      temporary file)
package webbench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/web"
	"github.com/mtasts/mtasts/web/webtest"
)

// The store's reports end on lastDay; the dashboard's clock is the next
// day.
var (
	lastDay = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	now     = lastDay.Add(36 * time.Hour)
)

const token = "bench-token-0123456789abcdef"

// envInt reads a positive integer from the environment.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// openStore opens the store of the benchmark and fills it if it is
// empty.
func openStore(b *testing.B) *reportstore.Store {
	path := os.Getenv("MTASTS_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "reports.db")
	}
	ctx := context.Background()
	s, err := reportstore.Open(ctx, "sqlite://"+path, reportstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	page, err := s.ListReports(ctx, reportstore.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if page.Total > 0 {
		b.Logf("using %s: %d reports", path, page.Total)
		return s
	}
	o := webtest.Options{Reports: envInt(b, "MTASTS_BENCH_REPORTS", 100_000), Domains: envInt(b, "MTASTS_BENCH_DOMAINS", 40), End: lastDay, Seed: 1}
	start := time.Now()
	n, err := webtest.Fill(ctx, s, o)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.Add(ctx, &reportstore.Submission{Raw: []byte("not a report " + strconv.Itoa(i)), Reason: "not JSON", Source: reportstore.SourceHTTPS}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %s with %d reports over %d domains in %v", path, n, o.Domains, time.Since(start).Round(time.Second))
	return s
}

// pages are the pages timed: every kind, over short and long periods.
var pages = []struct{ name, path string }{
	{"overview-30d", ""},
	{"overview-365d", "?days=365"},
	{"domain-30d", "domains/example.com"},
	{"domain-365d", "domains/example.com?days=365"},
	{"reports", "reports"},
	{"reports-domain-failures", "reports?domain=example.com&failures=1"},
	{"reports-page-1000", "reports?page=1000"},
	{"report", "reports/50000"},
	{"report-raw", "reports/50000/raw"},
	{"quarantine", "quarantine"},
}

// BenchmarkPages times each page twice: "cold", with a new dashboard for
// each request so that every query reaches the store, as after a new
// report arrived; and "warm", answered from the dashboard's results of the
// same version of the store.
func BenchmarkPages(b *testing.B) {
	s := openStore(b)
	newDashboard := func() http.Handler {
		h, err := web.New(s, web.Options{Auth: web.Auth{Tokens: []string{token}}, BasePath: "/dashboard/", Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	var dashboard atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*dashboard.Load()).ServeHTTP(w, r) }))
	defer srv.Close()
	client := srv.Client()
	for _, p := range pages {
		for _, cold := range []bool{true, false} {
			name := p.name + "/warm"
			if cold {
				name = p.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				h := newDashboard()
				dashboard.Store(&h)
				if !cold {
					get(b, client, srv.URL+"/dashboard/"+p.path)
				}
				var times []time.Duration
				var size int64
				for b.Loop() {
					if cold {
						b.StopTimer()
						h := newDashboard()
						dashboard.Store(&h)
						b.StartTimer()
					}
					start := time.Now()
					size = get(b, client, srv.URL+"/dashboard/"+p.path)
					times = append(times, time.Since(start))
				}
				report(b, times, size)
			})
		}
	}
}

// get fetches a page with the token and returns its size.
func get(b *testing.B, client *http.Client, url string) int64 {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	size, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return size
}

// report adds the latency percentiles and the page size to the results.
func report(b *testing.B, times []time.Duration, size int64) {
	slices.Sort(times)
	ms := func(q float64) float64 {
		return float64(times[min(len(times)-1, int(q*float64(len(times))))]) / 1e6
	}
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
	b.ReportMetric(ms(1), "max-ms")
	b.ReportMetric(float64(size)/1024, "KiB")
}
