package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/reportstore"
)

// reportsHost is the policy host the tests of this file POST to.
const reportsHost = "https://mta-sts.example.net"

// limitsClient returns a client of r's HTTPS listener with its
// connections from the loopback address src ("" for any), so that a test
// can be several clients: HTTP/1.1, or, if h2, one HTTP/2 connection over
// TLS that carries all its requests, as many at once as the server allows,
// as a prober holding a few connections does.
func limitsClient(t *testing.T, w *testworld.World, r *serveRun, h2 bool, src string) *http.Client {
	t.Helper()
	d := &net.Dialer{}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, r.addr)
		},
		Protocols: new(http.Protocols),
	}
	if !h2 {
		tr.Protocols.SetHTTP1(true)
		return &http.Client{Transport: tr, Timeout: time.Minute}
	}
	tr.Protocols.SetHTTP2(true)
	cc, err := tr.NewClientConn(context.Background(), "https", strings.TrimPrefix(reportsHost, "https://")+":443")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	c := &http.Client{Transport: cc, Timeout: time.Minute}
	// A first request, so that the client knows the server's stream limit
	// (RFC 9113 §6.5.2) and keeps within it rather than be refused.
	resp, err := c.Get(reportsHost + "/.well-known/mta-sts.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// answer is what the server said to one POST.
type answer struct {
	proto      string
	code       int
	retryAfter string
	body       string
}

// postReport POSTs body to /tlsrpt with c.
func postReport(t *testing.T, c *http.Client, ctype string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, reportsHost+"/tlsrpt", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	return do(t, c, req)
}

// reportPost is one POST of a flood.
type reportPost struct {
	c     *http.Client
	ctype string
	body  []byte
}

// postAll sends all posts at once and returns their answers.
func postAll(t *testing.T, posts []reportPost) []answer {
	answers := make([]answer, len(posts))
	var wg sync.WaitGroup
	for i, p := range posts {
		wg.Go(func() { answers[i] = postReport(t, p.c, p.ctype, bytes.NewReader(p.body)) })
	}
	wg.Wait()
	return answers
}

// countCodes counts answers by status.
func countCodes(answers []answer) map[int]int {
	n := map[int]int{}
	for _, a := range answers {
		n[a.code]++
	}
	return n
}

// cleanReport returns the clean report of tlsrpt's test data with report
// id id.
func cleanReport(t *testing.T, id string) []byte {
	t.Helper()
	report, err := os.ReadFile(filepath.Join("..", "..", "tlsrpt", "testdata", "reports", "clean.json"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(report, []byte("2024-05-01_example.net_0001"), []byte(id))
}

// openReportStore opens the report store of the serve configuration cfg;
// close it when done.
func openReportStore(t *testing.T, cfg string) *reportstore.Store {
	t.Helper()
	s, err := reportstore.Open(context.Background(), "sqlite://"+filepath.Join(filepath.Dir(cfg), "data", "reports.db"), reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServeQuarantineBounded attacks the report endpoint as a prober did:
// many clients POST random bytes over HTTP/2 and HTTP/1.1 at once, to
// fill the disk through the quarantine. Each client gets at most
// reject_burst bodies rejected, the rest is answered 429 with
// Retry-After before its body is read; garbage keeps a prefix only; the
// quarantine stays within its bounds, evicting garbage before a broken
// report; and across a restart of serve every accepted report stays and
// the bounds still hold.
func TestServeQuarantineBounded(t *testing.T) {
	w := testworld.New(t)
	const limits = "[serve.reports]\nenabled = true\ndkim = \"off\"\nreject_burst = 3\nreject_interval = \"1h\"\n" +
		"quarantine_max_bytes = 65536\nquarantine_max_entries = 12\nquarantine_prefix = 4096\n"
	cfg := serveConfig(t, w, limits, "example.net")
	r := startServe(t, "--config", cfg)

	// A report with a syntax error, from a sender of its own: kept whole.
	broken := append(cleanReport(t, "broken"), []byte(`,"trailing":`)...)
	if a := postReport(t, limitsClient(t, w, r, true, "127.0.0.200"), "application/tlsrpt+json", bytes.NewReader(broken)); a.code != http.StatusBadRequest {
		t.Fatalf("broken report: %+v, want 400", a)
	}

	// Valid reports, all accepted, from one client and many at once.
	accepted := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 20 {
		good := limitsClient(t, w, r, true, fmt.Sprintf("127.0.0.%d", 100+i%10))
		wg.Go(func() {
			id := fmt.Sprintf("report-%d", i)
			if a := postReport(t, good, "application/tlsrpt+json", bytes.NewReader(cleanReport(t, id))); a.code == http.StatusCreated {
				mu.Lock()
				accepted[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	// The flood: 8 clients, 4 connections each (two HTTP/2, two
	// HTTP/1.1), 40 POSTs of 256 KiB of random bytes each, all at once.
	flood := func(clients []string) []answer {
		var posts []reportPost
		rng := rand.New(rand.NewChaCha8([32]byte{1}))
		for _, src := range clients {
			for i := range 4 {
				c := limitsClient(t, w, r, i%2 == 0, src)
				for range 10 {
					garbage := make([]byte, 256<<10)
					for j := range garbage {
						garbage[j] = byte(rng.Uint32())
					}
					posts = append(posts, reportPost{c, "application/tlsrpt+gzip", garbage})
				}
			}
		}
		return postAll(t, posts)
	}
	var clients []string
	for i := range 8 {
		clients = append(clients, fmt.Sprintf("127.0.0.%d", 10+i))
	}
	answers := flood(clients)
	codes := countCodes(answers)
	if codes[http.StatusBadRequest] > 8*3 || codes[http.StatusTooManyRequests] < len(answers)-8*3 {
		t.Errorf("answers to %d garbage POSTs from 8 clients: %v; want at most 3 rejected bodies per client, the rest 429", len(answers), codes)
	}
	for _, a := range answers {
		if a.code == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(a.retryAfter); err != nil || secs < 1 {
				t.Errorf("429 with Retry-After %q", a.retryAfter)
			}
			break
		}
	}
	if len(accepted) != 20 {
		t.Errorf("%d of 20 valid reports accepted", len(accepted))
	}
	if !strings.Contains(r.stderr.String(), `"limit":"reject_rate"`) {
		t.Errorf("no log line of the rate limit:\n%.2000s", r.stderr)
	}

	checkStore := func(when string) {
		t.Helper()
		s := openReportStore(t, cfg)
		defer s.Close()
		page, err := s.ListReports(context.Background(), reportstore.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for _, rep := range page.Reports {
			stored[rep.ReportID] = true
		}
		for id := range accepted {
			if !stored[id] {
				t.Errorf("%s: accepted report %s is not in the store", when, id)
			}
		}
		q, err := s.ListQuarantine(context.Background(), reportstore.QuarantineOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		kept, brokenKept := 0, false
		for _, e := range q.Entries {
			full, err := s.GetQuarantined(context.Background(), e.ID)
			if err != nil {
				t.Fatal(err)
			}
			kept += len(full.Raw)
			if bytes.Equal(full.Raw, broken) {
				brokenKept = true
			} else if len(full.Raw) > 4096 || e.Size != 256<<10 {
				t.Errorf("%s: garbage entry %d keeps %d of %d bytes, want a prefix of 4096", when, e.ID, len(full.Raw), e.Size)
			}
		}
		if q.Total > 12 || kept > 65536 {
			t.Errorf("%s: quarantine holds %d entries, %d bytes; want at most 12 and 65536", when, q.Total, kept)
		}
		if !brokenKept {
			t.Errorf("%s: the broken report was evicted before garbage", when)
		}
	}
	checkStore("after the flood")

	// A real restart: the budget is the database's, the reports stay.
	if code := r.stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, r.stderr)
	}
	r = startServe(t, "--config", cfg)
	if a := postReport(t, limitsClient(t, w, r, false, "127.0.0.100"), "application/tlsrpt+json", bytes.NewReader(cleanReport(t, "after-restart"))); a.code != http.StatusCreated {
		t.Errorf("report after restart: %+v", a)
	} else {
		accepted["after-restart"] = true
	}
	clients = clients[:0]
	for i := range 4 {
		clients = append(clients, fmt.Sprintf("127.0.0.%d", 50+i))
	}
	flood(clients)
	r.stop()
	checkStore("after a restart and another flood")

	// The disk: 330 garbage POSTs of 256 KiB (82 MiB) left little.
	var size int64
	filepath.Walk(filepath.Join(filepath.Dir(cfg), "data"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	if size > 4<<20 {
		t.Errorf("data directory holds %d bytes after the floods, want under 4 MiB", size)
	}
}

// metricValue scrapes the metrics of r for the value of name, or -1.
func metricValue(t *testing.T, r *serveRun, name string) float64 {
	t.Helper()
	m := listeningMetrics.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener:\n%s", r.stderr)
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// gzipBomb returns gzip of size zero bytes, about a thousandth of that.
func gzipBomb(t *testing.T, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := io.CopyN(zw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return b.Bytes()
}

// TestServeGzipBombsBounded attacks the report endpoint as a prober did,
// with gzip bombs on many HTTP/2 streams of several connections at once,
// while a sender fetches the policy. The memory that bodies and their
// decompression hold stays within memory_limit (the budget's high-water
// mark, and the heap, measured in-process), those beyond it are answered
// 503 with Retry-After, and the policy endpoint answers throughout.
func TestServeGzipBombsBounded(t *testing.T) {
	w := testworld.New(t)
	const limits = "[serve.reports]\nenabled = true\ndkim = \"off\"\nmemory_limit = 100663296\nmax_per_client = 1000\nreject_burst = 1000\n"
	cfg := serveConfig(t, w, limits, "example.net")
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(text, []byte(`listen_metrics = ""`), []byte(`listen_metrics = "127.0.0.1:0"`), 1), 0o644)
	r := startServe(t, "--config", cfg)
	bomb := gzipBomb(t, 1<<30) // 1 MiB; refused at 20 MiB unpacked

	var heapPeak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > heapPeak.Load() {
				heapPeak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})

	// The policy, fetched again and again during the attack, on a new
	// connection each time as senders do.
	attack, attackDone := context.WithCancel(context.Background())
	var fetches, fetchErrors atomic.Int32
	var fetcher sync.WaitGroup
	sender := limitsClient(t, w, r, false, "127.0.0.99")
	sender.Transport.(*http.Transport).DisableKeepAlives = true
	fetcher.Go(func() {
		for attack.Err() == nil {
			fetches.Add(1)
			resp, err := sender.Get(reportsHost + "/.well-known/mta-sts.txt")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
			if err != nil {
				fetchErrors.Add(1)
				t.Errorf("policy fetch during the attack: %v", err)
			}
		}
	})

	var posts []reportPost
	for range 4 {
		c := limitsClient(t, w, r, true, "127.0.0.20")
		for range 40 {
			posts = append(posts, reportPost{c, "application/tlsrpt+gzip", bomb})
		}
	}
	answers := postAll(t, posts)
	attackDone()
	fetcher.Wait()
	close(stop)
	sampler.Wait()

	codes := countCodes(answers)
	if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusRequestEntityTooLarge] == 0 ||
		codes[http.StatusServiceUnavailable]+codes[http.StatusRequestEntityTooLarge] != len(answers) {
		t.Errorf("answers to %d bombs: %v; want 503 for those beyond the budget, 413 for the others", len(answers), codes)
	}
	for _, a := range answers {
		if a.proto != "HTTP/2.0" {
			t.Errorf("a bomb went over %s, want HTTP/2", a.proto)
			break
		}
		if a.code == http.StatusServiceUnavailable && a.retryAfter == "" {
			t.Errorf("503 without Retry-After: %+v", a)
			break
		}
	}
	if peak := metricValue(t, r, "mtasts_tlsrpt_http_memory_peak_bytes"); peak <= 0 || peak > 96<<20 {
		t.Errorf("bodies and decompression held at most %v bytes at once; want some, and at most memory_limit (96 MiB)", peak)
	}
	// The heap of this process (serve and the clients) under 160 bombs:
	// without the budget, each held its 20 MiB at once.
	t.Logf("heap peak %d MiB; answers %v", heapPeak.Load()>>20, codes)
	if peak := heapPeak.Load(); peak > 300<<20 {
		t.Errorf("heap peaked at %d MiB during the attack, want under 300 MiB", peak>>20)
	}
	if fetches.Load() == 0 || fetchErrors.Load() > 0 {
		t.Errorf("%d policy fetches during the attack, %d failed", fetches.Load(), fetchErrors.Load())
	}
}

// TestServeSlowReportBody sends report bodies slowly, as over a slow
// link, over HTTP/1.1 and HTTP/2, with a Content-Length and without: a
// report that keeps coming at a tolerable rate gets through even when it
// takes longer than read_timeout; one that stalls is answered 408 (to be
// sent again), and no answer names the server's address.
func TestServeSlowReportBody(t *testing.T) {
	w := testworld.New(t)
	cfg := serveConfig(t, w, "[serve.limits]\nread_timeout = \"1s\"\n[serve.reports]\nenabled = true\ndkim = \"off\"\nmin_body_rate = 32768\n", "example.net")
	r := startServe(t, "--config", cfg)
	host, _, _ := net.SplitHostPort(r.addr)

	// slowBody sends body in pieces of 8 KiB, 100 ms apart, then stops
	// (stall) or ends it.
	slowBody := func(body []byte, stall bool) io.ReadCloser {
		pr, pw := io.Pipe()
		go func() {
			for rest := body; len(rest) > 0; rest = rest[min(len(rest), 8<<10):] {
				time.Sleep(100 * time.Millisecond)
				if _, err := pw.Write(rest[:min(len(rest), 8<<10)]); err != nil {
					return
				}
			}
			if !stall {
				pw.Close()
			}
		}()
		return pr
	}
	post := func(c *http.Client, body io.ReadCloser, length int64) answer {
		req, _ := http.NewRequest(http.MethodPost, reportsHost+"/tlsrpt", body)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/tlsrpt+json")
		defer body.Close()
		return do(t, c, req)
	}
	for _, h2 := range []bool{false, true} {
		c := limitsClient(t, w, r, h2, "")
		for _, known := range []bool{true, false} {
			name := fmt.Sprintf("h2=%v/length=%v", h2, known)
			t.Run(name, func(t *testing.T) {
				// 192 KiB of report, padded with spaces: 2.4 s, more than
				// read_timeout, less than read_timeout plus 192 KiB at
				// 32 KiB/s (7 s).
				report := cleanReport(t, "slow-"+name)
				report = append(report, bytes.Repeat([]byte(" "), 192<<10-len(report))...)
				length := map[bool]int64{true: int64(len(report)), false: -1}[known]
				if a := post(c, slowBody(report, false), length); a.code != http.StatusCreated {
					t.Errorf("slow report: %+v, want 201", a)
				}
				// A body that stops after 10 of 100000 bytes.
				length = map[bool]int64{true: 100000, false: -1}[known]
				a := post(c, slowBody([]byte(`{"organiza`), true), length)
				if a.code != http.StatusRequestTimeout {
					t.Errorf("stalled body: %+v, want 408", a)
				}
				if strings.Contains(a.body, host) || strings.Contains(a.body, "tcp") {
					t.Errorf("the answer names the server's address: %q", a.body)
				}
			})
		}
	}
}

// do sends req with c and returns the answer.
func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return answer{}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return answer{resp.Proto, resp.StatusCode, resp.Header.Get("Retry-After"), string(msg)}
}
