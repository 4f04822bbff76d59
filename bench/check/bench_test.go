package checkbench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// BenchmarkCheckBulk checks every domain of a benchmark world (see
// benchWorld; MTASTS_BENCH_DOMAINS sets its size) with MX probes, at
// several concurrencies, in this one process: the world's DNS, HTTPS and
// SMTP servers share the CPU with the checker. It reports domains/s and
// the process's peak resident memory so far (world included).
func BenchmarkCheckBulk(b *testing.B) {
	w, domains := benchWorld(b, benchDomains(b), testworld.FarmOptions{})
	for _, conc := range []int{8, 32, 128} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			var checked int
			start := time.Now()
			for b.Loop() {
				// A new checker each time, so that no MX result is reused.
				c, err := check.New(check.Options{Resolver: w.Resolver(), RootCAs: w.RootCAs(), Dial: w.DialContext, Timeout: 30 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				err = c.CheckAll(context.Background(), slices.Values(domains), check.BulkOptions{Concurrency: conc}, func(it check.Item) error {
					if it.Err != nil || it.Result.Verdict.Status != check.StatusOK {
						return fmt.Errorf("%s: %v %+v", it.Domain, it.Err, it.Result.Findings)
					}
					checked++
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(checked)/time.Since(start).Seconds(), "domains/s")
			b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
		})
	}
}

// peakRSSMiB is the peak resident set size of the process (VmHWM), in MiB.
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
