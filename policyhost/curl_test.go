package policyhost

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// requireTool returns the path of an external program the test needs. If
// it is missing the test is skipped, or fails when MTASTS_REQUIRE_SERVICES=1
// (as in CI, which installs it).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// Debian installs daemons such as named in sbin, which a test's PATH
	// may lack.
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	testservers.Unavailable(t, name+" not installed")
	return ""
}

// curl, an independent HTTPS client, gets the policy with the headers
// RFC 8461 §3.3 wants, over HTTP/1.1 and HTTP/2, GET and HEAD.
func TestCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	w := testworld.New(t)
	ts := startSite(t, testConfig(t, w, "a.test", "b.test"), Options{})
	_, port, _ := net.SplitHostPort(ts.addr())
	run := func(host string, args ...string) (string, error) {
		url := "https://" + host + ":" + port + "/.well-known/mta-sts.txt"
		base := []string{"-sS", "--max-time", "10", "--cacert", w.CAFile(), "--resolve", host + ":" + port + ":127.0.0.1"}
		out, err := exec.Command(curl, append(append(base, args...), url)...).CombinedOutput()
		return strings.ReplaceAll(string(out), "\r\n", "\n"), err
	}
	for _, tc := range []struct {
		host  string
		args  []string
		lines []string
	}{
		{"mta-sts.a.test", []string{"-i", "--http1.1"}, []string{"HTTP/1.1 200 OK", "Content-Type: text/plain; charset=utf-8", "Cache-Control: no-store", "mx: mx1.a.test", "mode: enforce"}},
		{"mta-sts.b.test", []string{"-i", "--http2"}, []string{"HTTP/2 200", "content-type: text/plain; charset=utf-8", "cache-control: no-store", "mx: mx1.b.test"}},
		{"mta-sts.a.test", []string{"-I"}, []string{"200", "content-length: " + strconv.Itoa(len(ts.srv.Handler().site.Load().hosts["mta-sts.a.test"].Text))}},
	} {
		out, err := run(tc.host, tc.args...)
		if err != nil {
			t.Errorf("curl %s %v: %v\n%s", tc.host, tc.args, err, out)
			continue
		}
		for _, l := range tc.lines {
			if !strings.Contains(strings.ToLower(out), strings.ToLower(l)) {
				t.Errorf("curl %s %v: no %q in\n%s", tc.host, tc.args, l, out)
			}
		}
	}
	// Another host name fails in the TLS handshake (curl exit 35).
	out, err := run("mta-sts.other.test", "-i")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 35 || strings.Contains(out, "STSv1") {
		t.Errorf("unknown host: %v\n%s", err, out)
	}
}
