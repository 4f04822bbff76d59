// Command tlsrpt-collect measures how fast tlsrptsend reads a Postfix
// log: it generates a log of -lines lines (a realistic mix, see
// generate), then, in child processes limited to one core (GOMAXPROCS=1),
// reads it twice side by side: the floor, bufio.Scanner counting lines
// with no parsing, and the collector, tlsrptsend.PostfixLog parsing every
// line into outcomes summed by a tlsrptsend.Aggregator. It prints lines/s
// (wall and per CPU second), outcomes, peak RSS of each child, and the
// ratio. See bench/RESULTS.md.
//
//	go run ./bench/tlsrpt-collect -lines 1000000 -runs 3
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// domains is how many recipient domains the generated log has; one in
// ten has no policy.
const domains = 500

// result is what a child reports.
type result struct {
	Lines    int64   `json:"lines"`
	Outcomes int64   `json:"outcomes"`
	Seconds  float64 `json:"seconds"`
}

func main() {
	lines := flag.Int("lines", 1_000_000, "lines of the generated log")
	runs := flag.Int("runs", 3, "runs of each reader; the median is printed")
	mode := flag.String("mode", "", "internal: floor or parse FILE, in a child process")
	keep := flag.String("log", "", "write the generated log here and keep it (default: a temporary file)")
	flag.Parse()
	if *mode != "" {
		child(*mode, flag.Arg(0))
		return
	}
	path := *keep
	if path == "" {
		dir, err := os.MkdirTemp("", "tlsrpt-collect-")
		check(err)
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "mail.log")
	}
	f, err := os.Create(path)
	check(err)
	check(generate(f, *lines, domains))
	check(f.Close())
	info, err := os.Stat(path)
	check(err)
	fmt.Printf("log: %d lines, %.1f MB (%s)\n", *lines, float64(info.Size())/1e6, path)
	fmt.Printf("%-10s %12s %14s %10s %12s\n", "reader", "lines/s", "lines/CPU-s", "outcomes", "peak RSS MB")
	var rates [2]float64
	for i, m := range []string{"floor", "parse"} {
		var wall, cpu, rss []float64
		var last result
		for range *runs {
			r, cpuSec, maxRSS := runChild(m, path)
			wall = append(wall, float64(r.Lines)/r.Seconds)
			cpu = append(cpu, float64(r.Lines)/cpuSec)
			rss = append(rss, maxRSS)
			last = r
		}
		rates[i] = median(wall)
		fmt.Printf("%-10s %12.0f %14.0f %10d %12.1f\n", m, median(wall), median(cpu), last.Outcomes, median(rss))
	}
	fmt.Printf("parse/floor: %.2f\n", rates[1]/rates[0])
}

// runChild runs this program in mode on path with one core and returns
// its result, its CPU seconds and its peak RSS in MB.
func runChild(mode, path string) (result, float64, float64) {
	exe, err := os.Executable()
	check(err)
	cmd := exec.Command(exe, "-mode", mode, path)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	check(err)
	var r result
	check(json.Unmarshal(out, &r))
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return r, cpu, float64(ru.Maxrss) / 1024
}

// child reads path as mode says and prints its result as JSON.
func child(mode, path string) {
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	var r result
	start := time.Now()
	switch mode {
	case "floor":
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			r.Lines++
		}
		check(sc.Err())
	case "parse":
		policies := tlsrptsend.PolicyMap{}
		for d := range domains {
			if d%10 != 0 {
				name := "d" + strconv.Itoa(d) + ".example"
				policies[name] = tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: name,
					Strings: []string{"version: STSv1", "mode: enforce", "mx: *." + name, "max_age: 86400"}, MXHosts: []string{"*." + name}}
			}
		}
		now := func() time.Time { return time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC) }
		p := tlsrptsend.NewPostfixParser(policies, netip.MustParseAddr("192.0.2.25"), time.UTC, now)
		agg := tlsrptsend.NewAggregator()
		src := &tlsrptsend.PostfixLog{Parser: p, Reader: f}
		check(src.Run(context.Background(), agg))
		st := p.Stats()
		r.Lines, r.Outcomes = st.Lines, st.Sessions
		if st.Malformed != 0 || st.NotSyslog != 0 || st.Orphaned != 0 {
			check(fmt.Errorf("unexpected stats %+v", st))
		}
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	r.Seconds = time.Since(start).Seconds()
	check(json.NewEncoder(os.Stdout).Encode(r))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsrpt-collect:", err)
		os.Exit(1)
	}
}
