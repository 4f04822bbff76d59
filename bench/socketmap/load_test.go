package socketmapbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mtasts/mtasts/socketmap"
)

// loadResult is one load run against one server.
type loadResult struct {
	answers  int
	errors   int
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // the server's user+system time during the run
}

func (r loadResult) qps() float64 { return float64(r.answers) / r.elapsed.Seconds() }

// cpuPerAnswer is the server's CPU time per answer.
func (r loadResult) cpuPerAnswer() time.Duration {
	if r.answers == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.answers)
}

// runLoad keeps conns connections busy with one request at a time each,
// as Postfix's smtp(8) processes do, for d, cycling through keys, and
// measures every request's latency and the server's CPU time.
func runLoad(ctx context.Context, dial func(context.Context) (net.Conn, error), pid, conns int, d time.Duration, mapName string, keys []string, wantPrefix string) (loadResult, error) {
	clients := make([]*socketmap.Client, conns)
	for i := range clients {
		nc, err := dial(ctx)
		if err != nil {
			return loadResult{}, err
		}
		clients[i] = socketmap.NewClient(nc)
		defer clients[i].Close()
	}
	lat := make([][]time.Duration, conns)
	errs := make([]int, conns)
	cpu0, err := processCPU(pid)
	if err != nil {
		return loadResult{}, err
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			l := make([]time.Duration, 0, 1<<16)
			for n := i; ; n++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				r, err := c.Lookup(ctx, mapName, keys[n%len(keys)])
				if err != nil {
					errs[i]++
					break
				}
				l = append(l, time.Since(t0))
				if !strings.HasPrefix(r.String(), wantPrefix) {
					errs[i]++
				}
			}
			lat[i] = l
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := processCPU(pid)
	if err != nil {
		return loadResult{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	res := loadResult{answers: len(all), elapsed: elapsed, cpu: cpu1 - cpu0}
	for _, e := range errs {
		res.errors += e
	}
	if len(all) > 0 {
		res.p50 = all[len(all)*50/100]
		res.p99 = all[min(len(all)*99/100, len(all)-1)]
	}
	return res, nil
}

// clockTick is USER_HZ, the unit of the times in /proc/PID/stat; Linux
// fixes it at 100 for user space.
const clockTick = 10 * time.Millisecond

// processCPU returns the user plus system CPU time of a process, all its
// threads included (fields 14 and 15 of /proc/PID/stat, proc(5)).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start
	// after its closing parenthesis.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times %q %q", pid, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// peakRSS returns a process's peak resident set size (VmHWM of
// /proc/PID/status), in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}
