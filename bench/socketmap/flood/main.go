// Command flood measures what floods of connections and of new domains
// cost "mtasts daemon" (issue 16): its resident memory and open file
// descriptors, and whether a new client is still served. Everything runs
// on loopback: the daemon, a DNS server that answers the flood's names
// (NXDOMAIN) only after a delay, and the clients. Each phase starts a
// fresh daemon.
//
//  1. idle: open -idle connections that send nothing, then ask for one
//     domain on a new connection.
//  2. lookups: -conns connections each pipeline -pipelined new domains at
//     once; the DNS server holds every query for -hold.
//
// The daemon gets -nofile as its limit on open files; flood then raises
// its own to open the idle connections. Changing the hard limit needs
// root.
//
//	flood -mtasts ./mtasts [-nofile 20000] [-idle 20000] [-conns 1000] [-pipelined 16] [-hold 1.5s]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/socketmap"
)

// floodSuffix is the zone of the flood's names, held by the DNS server.
const floodSuffix = ".flood.test."

func main() {
	bin := flag.String("mtasts", "./mtasts", "the mtasts binary to measure")
	idle := flag.Int("idle", 20000, "idle connections of phase 1")
	conns := flag.Int("conns", 1000, "connections of phase 2")
	pipelined := flag.Int("pipelined", 16, "new domains each connection of phase 2 pipelines")
	nofile := flag.Uint64("nofile", 20000, "the daemon's limit on open files")
	hold := flag.Duration("hold", 1500*time.Millisecond, "how long the DNS server holds each query for a new domain (under the daemon's 2 s DNS timeout)")
	flag.Parse()
	if spec := os.Getenv(holderEnv); spec != "" {
		if err := holdIdle(spec); err != nil {
			fmt.Fprintln(os.Stderr, "flood holder:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *nofile, *idle, *conns, *pipelined, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(bin string, nofile uint64, idle, conns, pipelined int, hold time.Duration) error {
	dnsAddr, stopDNS, err := startDNS(hold)
	if err != nil {
		return err
	}
	defer stopDNS()
	fmt.Printf("| phase | open fds | RSS MiB | peak RSS MiB | result |\n|---|---|---|---|---|\n")

	d, err := startDaemon(bin, dnsAddr, nofile)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	line, err := idlePhase(self, d, idle)
	d.stop()
	if err != nil {
		return err
	}
	fmt.Println(line)

	d, err = startDaemon(bin, dnsAddr, nofile)
	if err != nil {
		return err
	}
	line, err = lookupPhase(d, conns, pipelined)
	d.stop()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// startDNS serves NXDOMAIN on a loopback UDP and TCP port: at once for
// most names, after hold for those under floodSuffix.
func startDNS(hold time.Duration) (string, func(), error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	if u, ok := pc.(*net.UDPConn); ok {
		u.SetReadBuffer(16 << 20) // a flood of queries comes at once
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return "", nil, err
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		if len(req.Question) == 1 && strings.HasSuffix(strings.ToLower(req.Question[0].Name), floodSuffix) {
			time.Sleep(hold)
		}
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeNameError)
		w.WriteMsg(m)
	})
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	return pc.LocalAddr().String(), func() { udp.Shutdown(); tcp.Shutdown() }, nil
}

// daemon is a running mtasts daemon.
type daemon struct {
	cmd  *exec.Cmd
	addr string
}

// startDaemon starts mtasts daemon on a free loopback port with a memory
// cache and a limit of nofile open files, and waits until it answers.
func startDaemon(bin, dnsAddr string, nofile uint64) (*daemon, error) {
	if err := setFileLimit(nofile); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "daemon", "--listen", addr, "--resolver", dnsAddr, "--cache", "memory:",
		"--map", "sts", "--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, addr: addr}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := lookup(addr, "ready.example", time.Second); err == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, errors.New("the daemon did not answer within 10 s")
		}
	}
}

// stop ends the daemon and waits for it.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

// usage returns the daemon's open descriptors and its resident and peak
// resident memory in MiB.
func (d *daemon) usage() (fds int, rss, hwm float64) {
	pid := strconv.Itoa(d.cmd.Process.Pid)
	if ents, err := os.ReadDir("/proc/" + pid + "/fd"); err == nil {
		fds = len(ents)
	}
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return fds, 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return fds, rss, hwm
}

// lookup asks the daemon for domain on a new connection, within timeout.
func lookup(addr, domain string, timeout time.Duration) (socketmap.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := socketmap.Dial(ctx, "tcp", addr)
	if err != nil {
		return socketmap.Reply{}, err
	}
	defer c.Close()
	return c.Lookup(ctx, "sts", domain)
}

// setFileLimit sets this process's soft and hard limits on open files to
// n; raising the hard limit needs root.
func setFileLimit(n uint64) error {
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		return fmt.Errorf("setting the limit on open files to %d: %w", n, err)
	}
	return nil
}

// holderEnv, set to "ADDR N", makes flood a holder process: it opens N
// connections to ADDR that send nothing, says how many it opened, and on
// the line "check" says how many the daemon has closed; it exits when its
// input ends. Holders spread the idle connections over processes, each
// under the limit on open files.
const holderEnv = "FLOOD_HOLDER"

// perHolder is the number of idle connections of one holder process.
const perHolder = 5000

// idlePhase opens n connections that send nothing, in holder processes,
// then measures the daemon and asks for a domain on a new connection.
func idlePhase(self string, d *daemon, n int) (string, error) {
	var holders []*holder
	defer func() {
		for _, h := range holders {
			h.stop()
		}
	}()
	connected, failed := 0, 0
	for left := n; left > 0; left -= perHolder {
		h, err := startHolder(self, d.addr, min(left, perHolder))
		if err != nil {
			return "", err
		}
		holders = append(holders, h)
		var c, f int
		if _, err := fmt.Sscanf(h.ask(""), "connected %d failed %d", &c, &f); err != nil {
			return "", fmt.Errorf("holder: %w", err)
		}
		connected, failed = connected+c, failed+f
	}
	time.Sleep(time.Second) // let the daemon accept what it can
	fds, rss, hwm := d.usage()
	served := "new client served"
	if r, err := lookup(d.addr, "new.example", 5*time.Second); err != nil {
		served = "new client NOT served: " + err.Error()
	} else if r.Status != socketmap.StatusNotFound {
		served = "new client answered " + string(r.Status) + " " + r.Data
	}
	closed := 0
	for _, h := range holders {
		var c int
		if _, err := fmt.Sscanf(h.ask("check"), "closed %d", &c); err != nil {
			return "", fmt.Errorf("holder: %w", err)
		}
		closed += c
	}
	return fmt.Sprintf("| %d idle connections | %d | %.0f | %.0f | %d connected, %d dials failed, %d closed by the daemon; %s |",
		n, fds, rss, hwm, connected, failed, closed, served), nil
}

// holder is a holder process (see holderEnv).
type holder struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startHolder(self, addr string, n int) (*holder, error) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", holderEnv, addr, n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &holder{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// ask sends line, unless empty, and returns the holder's next line.
func (h *holder) ask(line string) string {
	if line != "" {
		fmt.Fprintln(h.in, line)
	}
	h.out.Scan()
	return h.out.Text()
}

func (h *holder) stop() {
	h.in.Close()
	h.cmd.Wait()
}

// holdIdle is the holder process.
func holdIdle(spec string) error {
	var addr string
	var n int
	if _, err := fmt.Sscanf(spec, "%s %d", &addr, &n); err != nil {
		return fmt.Errorf("%s=%q: %w", holderEnv, spec, err)
	}
	var open []net.Conn
	failed := 0
	for range n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			failed++
			continue
		}
		open = append(open, c)
	}
	fmt.Printf("connected %d failed %d\n", len(open), failed)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		closed := 0
		for _, c := range open {
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				closed++
			}
		}
		fmt.Printf("closed %d\n", closed)
	}
	return nil
}

// lookupPhase makes conns connections each pipeline pipelined new domains
// at once, samples the daemon's descriptors until every reply is in, and
// counts the replies by status.
func lookupPhase(d *daemon, conns, pipelined int) (string, error) {
	clients := make([]*socketmap.Client, conns)
	for i := range clients {
		nc, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
		if err != nil {
			return "", fmt.Errorf("connection %d: %w", i, err)
		}
		clients[i] = socketmap.NewClient(nc)
		defer clients[i].Close()
	}
	var peakFds atomic.Int64
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			fds, _, _ := d.usage()
			peakFds.Store(max(peakFds.Load(), int64(fds)))
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		reqs := make([]socketmap.Request, pipelined)
		for j := range reqs {
			reqs[j] = socketmap.Request{Map: "sts", Key: fmt.Sprintf("c%d-%d%s", i, j, strings.TrimSuffix(floodSuffix, "."))}
		}
		wg.Go(func() {
			replies, err := c.LookupAll(ctx, reqs...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses["error"] += len(reqs)
				return
			}
			for _, r := range replies {
				statuses[string(r.Status)]++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(sampling)
	sampler.Wait()
	_, rss, hwm := d.usage()
	var counts []string
	for _, s := range []string{"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM", "error"} {
		if n := statuses[s]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return fmt.Sprintf("| %d × %d pipelined new domains | %d (peak) | %.0f | %.0f | %s in %.1f s |",
		conns, pipelined, peakFds.Load(), rss, hwm, strings.Join(counts, ", "), elapsed.Seconds()), nil
}
