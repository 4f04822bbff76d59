package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// monitorProc is an "mtasts serve" process with the monitor on.
type monitorProc struct {
	cmd    *exec.Cmd
	stderr *testenv.Buffer
}

// metric scrapes the process's metrics for the value of the series
// name (with its labels), or -1 when it is absent or the process does
// not answer.
func (p *monitorProc) metric(name string) float64 {
	m := listeningMetrics.FindStringSubmatch(p.stderr.String())
	if m == nil {
		return -1
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestServeMonitorOneWatcher runs two "mtasts serve" processes over one
// PostgreSQL store: exactly one watches (holds the lease), every alert is
// sent once, and when the watcher is killed the other takes over without
// sending any alert again.
func TestServeMonitorOneWatcher(t *testing.T) {
	bin, err := mtastsBinary()
	if err != nil {
		t.Fatalf("building mtasts: %v", err)
	}
	pg := testservers.StartPostgres(t)
	db := pg.NewDatabase(t)
	w := testworld.New(t)
	// The policy host's address has nothing on port 443 and the MX host
	// none on port 25: the fetch and the probes fail, which alerts.
	w.DNS.Add("example.com. MX 10 mx1.example.com.")
	w.HostIP("mta-sts.example.com")
	w.HostIP("mx1.example.com")
	w.DNS.TXT("_mta-sts.example.com", "v=STSv1; id=old1;")

	var mu sync.Mutex
	var alerts []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var a map[string]any
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
	}))
	defer hook.Close()
	firing := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, a := range alerts {
			if a["status"] == "firing" {
				n[fmt.Sprint(a["kind"], " ", a["subject"])]++
			}
		}
		return n
	}

	var configs []string
	start := func(name string) *monitorProc {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := testworld.WriteCertFiles(t, dir, "mta-sts.example.com", w.CA.Valid(t, "mta-sts.example.com"))
		config := filepath.Join(dir, "mtasts.toml")
		toml := fmt.Sprintf(`[serve]
data_dir = "data"
listen_https = "127.0.0.1:0"
listen_http = ""
listen_metrics = "127.0.0.1:0"
[serve.reports]
db = %q
[serve.monitor]
enabled = true
interval = "1s"
resolver = %q
ca_file = %q
[[serve.monitor.webhook]]
url = %q
[[domain]]
name = "example.com"
mode = "enforce"
mx = ["mx1.example.com"]
cert_file = %q
key_file = %q
`, db, w.Resolver(), w.CAFile(), hook.URL, certFile, keyFile)
		if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		configs = append(configs, config)
		p := &monitorProc{stderr: &testenv.Buffer{}}
		p.cmd = exec.Command(bin, "serve", "--config", config)
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", name, p.stderr)
			}
		})
		waitFor(t, name+" metrics", func() bool { return p.metric("mtasts_monitor_leader") >= 0 })
		return p
	}
	a, b := start("a"), start("b")
	leaders := func() (n int, leader, other *monitorProc) {
		for _, p := range []*monitorProc{a, b} {
			switch p.metric("mtasts_monitor_leader") {
			case 1:
				n++
				leader = p
			default:
				other = p
			}
		}
		return n, leader, other
	}
	var leader, other *monitorProc
	waitFor(t, "one watcher", func() bool {
		var n int
		n, leader, other = leaders()
		return n == 1
	})
	waitFor(t, "the first alerts", func() bool { return len(firing()) > 0 })
	waitFor(t, "a second round", func() bool { return leader.metric(`mtasts_monitor_checks_total{result="ok"}`) >= 2 })
	if n, _, _ := leaders(); n != 1 {
		t.Fatalf("%d watchers, want 1", n)
	}
	if got := other.metric(`mtasts_monitor_checks_total{result="ok"}`); got != 0 {
		t.Errorf("the server that does not watch checked %v times", got)
	}
	before := firing()

	// The watcher dies without giving the lease up; the other takes over.
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Wait()
	waitFor(t, "the take-over", func() bool { return other.metric("mtasts_monitor_leader") == 1 })
	waitFor(t, "rounds of the new watcher", func() bool { return other.metric(`mtasts_monitor_checks_total{result="ok"}`) >= 2 })
	after := firing()
	for k, n := range after {
		if n != 1 {
			t.Errorf("alert %s sent %d times", k, n)
		}
	}
	if len(after) != len(before) {
		t.Errorf("alerts before the take-over %v, after %v", before, after)
	}
	if _, ok := after["sts-record-id _mta-sts.example.com"]; !ok {
		t.Errorf("no alert of the stale id: %v", after)
	}

	// mtasts status reads what the watchers wrote.
	r := runCmd(t, nil, "", "status", "--config", configs[0], "--json")
	var v struct {
		Domains []struct {
			Domain     string `json:"domain"`
			Status     string `json:"status"`
			Conditions []struct {
				Kind  string `json:"kind"`
				Fired bool   `json:"fired"`
			} `json:"conditions"`
		} `json:"domains"`
		OpenAlerts int `json:"open_alerts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if r.code != exitErrors || len(v.Domains) != 1 || v.Domains[0].Status != "critical" || v.OpenAlerts != len(after) {
		t.Errorf("status: code %d, %+v; want exit 2, critical, %d open alerts", r.code, v, len(after))
	}
	r = runCmd(t, nil, "", "status", "--config", configs[1], "example.com")
	if r.code != exitErrors || !strings.Contains(r.stdout, "example.com: critical") || !strings.Contains(r.stdout, "sts-record-id _mta-sts.example.com") {
		t.Errorf("status example.com: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = runCmd(t, nil, "", "status", "--config", configs[1], "other.example"); r.code != exitCannotRun {
		t.Errorf("status of a domain not served: code %d\n%s", r.code, r.stderr)
	}
}
