// Package monitorbench measures what the monitor of mtasts serve costs
// (issue 13): CPU time and memory per served domain per check round, over
// the benchmark world of bench/check (each domain its own policy host and
// MX host, served by another process). Run it with run.sh; see
// bench/RESULTS.md for the numbers.
package monitorbench

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/rollout/monitor"
)

// cpu returns the user and system time of this process.
func cpu(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMonitorRounds runs MTASTS_BENCH_ROUNDS (default 3) rounds of the
// monitor over every domain of the world in MTASTS_BENCH_WORLD (written by
// bench/check's TestServeWorld), with a SQLite report store, and prints a
// Markdown row per round. It is skipped without MTASTS_BENCH_WORLD.
func TestMonitorRounds(t *testing.T) {
	dir := os.Getenv("MTASTS_BENCH_WORLD")
	if dir == "" {
		t.Skip("MTASTS_BENCH_WORLD is not set; run bench/monitor/run.sh")
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(read("ca.pem")))
	var policies []policyhost.Policy
	for _, d := range strings.Fields(read("domains.txt")) {
		// The id is left out: the world publishes its own.
		policies = append(policies, policyhost.Policy{Domain: d, Text: []byte("version: STSv1\r\nmode: enforce\r\nmx: mx." + d + "\r\nmax_age: 1209600\r\n")})
	}
	ctx := context.Background()
	store, err := reportstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	concurrency, _ := strconv.Atoi(os.Getenv("MTASTS_BENCH_CONCURRENCY"))
	m, err := monitor.New(monitor.Options{Store: store, Policies: func() []policyhost.Policy { return policies }, Concurrency: concurrency,
		Check: check.Options{Resolver: read("resolver"), RootCAs: roots, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	rounds, _ := strconv.Atoi(os.Getenv("MTASTS_BENCH_ROUNDS"))
	if rounds < 1 {
		rounds = 3
	}
	n := len(policies)
	fmt.Printf("| round | domains | seconds | CPU (ms/domain) | allocated (KiB/domain) | heap after GC (MiB) | open conditions |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for r := 1; r <= rounds; r++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c0, t0 := cpu(t), time.Now()
		if err := m.Round(ctx); err != nil {
			t.Fatal(err)
		}
		wall, used := time.Since(t0), cpu(t)-c0
		runtime.GC()
		runtime.ReadMemStats(&after)
		open, err := store.MonitorConditions(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("| %d | %d | %.1f | %.2f | %.0f | %.1f | %d |\n", r, n, wall.Seconds(), float64(used.Microseconds())/1000/float64(n),
			float64(after.TotalAlloc-before.TotalAlloc)/1024/float64(n), float64(after.HeapInuse)/(1<<20), len(open))
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("\npeak RSS of the monitor process: %.0f MiB\n", float64(ru.Maxrss)/1024)
}
