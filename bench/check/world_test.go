// Package checkbench measures the bulk mode of mtasts check (issue 3):
// how many domains a second it checks, with MX probes, over a testworld of
// thousands of domains, and how much memory it takes. Run it with run.sh;
// see bench/RESULTS.md for the numbers.
package checkbench

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// benchDomains is the size of the benchmark world, from
// MTASTS_BENCH_DOMAINS (default 1000).
func benchDomains(tb testing.TB) int {
	n := 1000
	if s := os.Getenv("MTASTS_BENCH_DOMAINS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			tb.Fatalf("MTASTS_BENCH_DOMAINS=%q: want a positive number", s)
		}
		n = v
	}
	return n
}

// benchWorld publishes n complete deployments on a farm: for each domain
// an _mta-sts record, a policy host with an enforce policy, its own MX
// host with STARTTLS and a valid certificate, and a TLS-RPT record. Every
// domain has its own MX host, so that every domain costs a probe: the
// worst case for a bulk scan. It returns the world and the domains.
func benchWorld(tb testing.TB, n int, opts testworld.FarmOptions) (*testworld.World, []string) {
	w := testworld.New(tb)
	f := w.NewFarm(opts)
	domains := make([]string, n)
	for i := range domains {
		d := fmt.Sprintf("d%05d.bench", i)
		mx := "mx." + d
		f.MXHost(mx)
		f.PolicyDomain(d, "version: STSv1\r\nmode: enforce\r\nmx: "+mx+"\r\nmax_age: 1209600\r\n")
		w.DNS.Add(d + ". 3600 IN MX 10 " + mx + ".")
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=mailto:tlsrpt@"+d)
		domains[i] = d
	}
	return w, domains
}

// TestServeWorld serves a benchmark world to programs outside the test
// process, for run.sh: it is skipped unless MTASTS_BENCH_WORLD names a
// directory. The farm listens on the real ports 25 and 443 of
// 127.2.0.1–127.2.0.<MTASTS_BENCH_ADDRS> (root needed). Into the directory
// it writes domains.txt, ca.pem and resolver (the DNS server's address),
// then ready; it serves until it gets SIGTERM or SIGINT.
func TestServeWorld(t *testing.T) {
	dir := os.Getenv("MTASTS_BENCH_WORLD")
	if dir == "" {
		t.Skip("MTASTS_BENCH_WORLD is not set; run bench/check/run.sh")
	}
	nAddrs, _ := strconv.Atoi(os.Getenv("MTASTS_BENCH_ADDRS"))
	if nAddrs < 1 {
		nAddrs = 64
	}
	var addrs []string
	for i := 1; i <= nAddrs; i++ {
		addrs = append(addrs, fmt.Sprintf("127.2.%d.%d", i/250, i%250+1))
	}
	start := time.Now()
	w, domains := benchWorld(t, benchDomains(t), testworld.FarmOptions{Addrs: addrs})
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("domains.txt", strings.Join(domains, "\n")+"\n")
	write("ca.pem", string(w.CA.PEM()))
	write("resolver", w.Resolver())
	write("ready", fmt.Sprintf("%d domains on %d addresses, built in %s\n", len(domains), len(addrs), time.Since(start).Round(time.Millisecond)))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
