// Command bombs measures "mtasts serve" under the concurrent gzip-bomb
// attack of issue 16: CONNS HTTP/2 connections, each with STREAMS report
// POSTs at once of a gzip bomb (1 MiB that inflates to about 1 GiB), while
// a sender fetches the policy again and again, each time on a new
// connection. For each binary given it starts serve with the same
// configuration on loopback, runs the attack once, and prints a Markdown
// row: serve's peak resident memory (VmHWM of /proc/PID/status), its
// memory before the attack, the answers to the bombs, and the latency of
// the policy fetches during the attack.
//
// Usage:
//
//	go run ./bench/serve/bombs -bin old=/tmp/mtasts-old -bin new=/tmp/mtasts-new
//
// Everything listens and connects on 127.0.0.1 only. Each run is bounded:
// CONNS×STREAMS bombs, each sent once, within -timeout.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	domain = "bench.test"
	host   = "mta-sts." + domain
)

type binFlag []string

func (b *binFlag) String() string     { return strings.Join(*b, ",") }
func (b *binFlag) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var bins, extras binFlag
	flag.Var(&bins, "bin", "LABEL=PATH of an mtasts binary to measure (repeat)")
	flag.Var(&extras, "extra", `LABEL=LINES: settings added to [serve.reports] for LABEL ("\n" between lines)`)
	conns := flag.Int("conns", 6, "HTTP/2 connections of the attacker")
	streams := flag.Int("streams", 100, "report POSTs at once on each connection")
	bombSize := flag.Int("bomb", 1<<20, "size of the gzip bomb in bytes")
	port := flag.Int("port", 18543, "loopback port for serve")
	timeout := flag.Duration("timeout", 3*time.Minute, "bound on one attack")
	flag.Parse()
	if len(bins) == 0 {
		log.Fatal("give at least one -bin LABEL=PATH")
	}
	dir, err := os.MkdirTemp("", "mtasts-bombs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	roots, err := writeCert(dir)
	if err != nil {
		log.Fatal(err)
	}
	bomb := gzipBomb(*bombSize)
	fmt.Printf("Attack: %d HTTP/2 connections × %d concurrent POSTs of a %d KiB gzip bomb (inflates to %d MiB); the policy fetched on a new connection each time during the attack.\n\n",
		*conns, *streams, len(bomb)>>10, 1000*len(bomb)>>20)
	fmt.Println("| binary | RSS before (MiB) | peak RSS, VmHWM (MiB) | bombs: answers | policy fetches | policy p50 (ms) | policy p99 (ms) | policy max (ms) | attack (s) |")
	fmt.Println("|---|---:|---:|---|---:|---:|---:|---:|---:|")
	for _, b := range bins {
		label, path, ok := strings.Cut(b, "=")
		if !ok {
			log.Fatalf("-bin %q: want LABEL=PATH", b)
		}
		extra := ""
		for _, e := range extras {
			if l, text, _ := strings.Cut(e, "="); l == label {
				extra = strings.ReplaceAll(text, `\n`, "\n") + "\n"
			}
		}
		r, err := measure(path, filepath.Join(dir, label), extra, roots, *port, *conns, *streams, bomb, *timeout)
		if err != nil {
			log.Fatalf("%s: %v", label, err)
		}
		fmt.Printf("| %s | %.0f | %.0f | %s | %d | %.1f | %.1f | %.1f | %.1f |\n", label, r.rssBefore, r.peakRSS, r.answers,
			len(r.latencies), pct(r.latencies, 50), pct(r.latencies, 99), pct(r.latencies, 100), r.elapsed.Seconds())
	}
}

type result struct {
	rssBefore, peakRSS float64 // MiB
	answers            string
	latencies          []float64 // ms
	elapsed            time.Duration
}

// measure starts the binary at path with a fresh data directory and the
// settings extra in [serve.reports], attacks it and stops it.
func measure(path, dir, extra string, roots *x509.CertPool, port, conns, streams int, bomb []byte, timeout time.Duration) (*result, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`[serve]
listen_https = "127.0.0.1:%d"
listen_http = ""
listen_metrics = ""
data_dir = "data"
access_log = false
config_check = "0s"
[serve.reports]
enabled = true
dkim = "off"
%s[[domain]]
name = %q
mode = "enforce"
mx = ["mx1.%s"]
cert_file = "../cert.pem"
key_file = "../key.pem"
`, port, extra, domain, domain)
	if err := os.WriteFile(filepath.Join(dir, "mtasts.toml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(path, "serve", "--config", filepath.Join(dir, "mtasts.toml"))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	tlsConfig := &tls.Config{ServerName: host, RootCAs: roots}
	if err := waitPolicy(addr, tlsConfig); err != nil {
		return nil, err
	}
	r := &result{}
	if r.rssBefore, err = procStatus(cmd.Process.Pid, "VmRSS"); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	attackDone := make(chan struct{})
	var fetcher sync.WaitGroup
	fetcher.Go(func() {
		for {
			select {
			case <-attackDone:
				return
			default:
			}
			start := time.Now()
			if err := fetchPolicy(ctx, addr, tlsConfig); err != nil {
				log.Printf("policy fetch: %v", err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			r.latencies = append(r.latencies, float64(time.Since(start).Microseconds())/1000)
		}
	})

	start := time.Now()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range conns {
		cc, err := dialH2(ctx, addr, tlsConfig)
		if err != nil {
			return nil, err
		}
		defer cc.Close()
		for range streams {
			wg.Go(func() {
				answer := post(ctx, cc, bomb)
				mu.Lock()
				codes[answer]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	close(attackDone)
	fetcher.Wait()
	if r.peakRSS, err = procStatus(cmd.Process.Pid, "VmHWM"); err != nil {
		return nil, err
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range codes {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, codes[k]))
	}
	r.answers = strings.Join(parts, ", ")
	return r, nil
}

// dialH2 opens one HTTP/2 connection over TLS: all the streams of one
// attacking connection go over it.
func dialH2(ctx context.Context, addr string, cfg *tls.Config) (*http.ClientConn, error) {
	tr := &http.Transport{
		TLSClientConfig: cfg.Clone(), // the transport sets its NextProtos
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		Protocols: new(http.Protocols),
	}
	tr.Protocols.SetHTTP2(true)
	cc, err := tr.NewClientConn(ctx, "https", host+":443")
	if err != nil {
		return nil, err
	}
	// A first request, so that the client knows the server's stream limit
	// (RFC 9113 §6.5.2): every bomb is then sent, as many at once as the
	// server allows, rather than refused.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		cc.Close()
		return nil, err
	}
	resp.Body.Close()
	return cc, nil
}

// post POSTs the bomb as a report and returns the status, or the error.
func post(ctx context.Context, cc *http.ClientConn, bomb []byte) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+host+"/tlsrpt", bytes.NewReader(bomb))
	req.Header.Set("Content-Type", "application/tlsrpt+gzip")
	resp, err := cc.RoundTrip(req)
	switch {
	case err != nil && strings.Contains(err.Error(), "REFUSED_STREAM"):
		// RFC 9113 §8.7: over the server's stream limit, safe to retry.
		return "REFUSED_STREAM"
	case err != nil:
		return "error: " + err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}

// fetchPolicy fetches the policy as a sender does: a new connection,
// HTTP/1.1, status 200 or an error.
func fetchPolicy(ctx context.Context, addr string, cfg *tls.Config) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   cfg,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("policy: %s", resp.Status)
	}
	return nil
}

// waitPolicy waits until serve answers the policy.
func waitPolicy(addr string, cfg *tls.Config) error {
	var err error
	for range 200 {
		if err = fetchPolicy(context.Background(), addr, cfg); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("serve does not answer: %w", err)
}

// procStatus returns a memory field of /proc/PID/status in MiB.
func procStatus(pid int, field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err != nil {
				return 0, fmt.Errorf("%s: %q: %w", field, v, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// pct returns the p-th percentile of ms (nearest rank), 0 for none.
func pct(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ms))
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// gzipBomb returns about n bytes of gzip of zeros (some 1000 times as
// many).
func gzipBomb(n int) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for b.Len() < n {
		zw.Write(zeros)
	}
	zw.Close()
	return b.Bytes()
}

// writeCert writes a self-signed certificate for host and its key into
// dir as cert.pem and key.pem, and returns a pool that trusts it.
func writeCert(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return roots, nil
}
