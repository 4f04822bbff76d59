package policyhost

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// pebble is Let's Encrypt's ACME test CA (Debian package pebble), started
// by a test to validate challenges against our listeners.
type pebble struct {
	directory string
	mgmt      string
	client    *http.Client
}

// startPebble starts pebble with its own TLS certificate from w's CA,
// resolving names with the DNS server at dnsServer ("host:port") and
// validating HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort.
func startPebble(t *testing.T, w *testworld.World, dnsServer string, httpPort, tlsPort int) *pebble {
	t.Helper()
	bin := requireTool(t, "pebble")
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "pebble", w.CA.Issue(t, testworld.CertOptions{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}))
	listen, mgmt := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": certFile, "privateKey": keyFile,
		"httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
	}})
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", confFile, "-dnsserver", dnsServer, "-strict=false")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	startProgram(t, "pebble", cmd)
	p := &pebble{
		directory: "https://" + listen + "/dir",
		mgmt:      "https://" + mgmt,
		client:    &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()}}},
	}
	waitFor(t, "pebble", func() bool {
		resp, err := p.client.Get(p.directory)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return p
}

// roots returns a pool with the root that pebble issues under.
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pem, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("pebble root: %q", pem)
	}
	return pool
}

// Real ACME issuance against pebble, once with each challenge type: the
// certificates arrive without restart, senders accept them, the expiry is
// exported, and nothing is requested for names that are not configured.
func TestACMEPebble(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			w := testworld.New(t)
			httpL, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			httpsL, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p := startPebble(t, w, w.Resolver(), httpL.Addr().(*net.TCPAddr).Port, httpsL.Addr().(*net.TCPAddr).Port)
			w.DNS.Add("mta-sts.a.test. 300 IN A 127.0.0.1", "mta-sts.b.test. 300 IN A 127.0.0.1")

			cfg := testConfig(t, w, "a.test", "b.test")
			for i := range cfg.Domains {
				cfg.Domains[i].CertFile, cfg.Domains[i].KeyFile = "", ""
			}
			cfg.CertCheck = 100 * time.Millisecond
			cfg.ACME = ACMEConfig{Enabled: true, DirectoryURL: p.directory, Email: "hostmaster@a.test", AgreeTOS: true, CAFile: w.CAFile(),
				DisableHTTP01: challenge != "http-01", DisableTLSALPN01: challenge != "tls-alpn-01"}
			metricsL, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ts := startSiteOn(t, cfg, Options{}, &Listeners{HTTPS: httpsL, HTTP: httpL, Metrics: metricsL})
			roots := p.roots(t)
			for _, d := range []string{"a.test", "b.test"} {
				var f *sts.Fetched
				deadline := time.Now().Add(60 * time.Second)
				for {
					f, err = sts.FetchPolicy(t.Context(), d, sts.FetchOptions{RootCAs: roots, DialContext: ts.dialer(), Timeout: 5 * time.Second})
					if err == nil || time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if err != nil {
					t.Fatalf("%s: no certificate from pebble: %v\n%s", d, err, ts.logs)
				}
				if f.Policy.Mode != sts.ModeEnforce {
					t.Errorf("%s: %+v", d, f.Policy)
				}
			}
			sample := `mtasts_serve_certificate_expiry_timestamp_seconds{domain="a.test",host="mta-sts.a.test",service="https",source="acme"}`
			waitFor(t, "the ACME expiry metric", func() bool { return metricValue(t, ts, sample) > float64(time.Now().Unix()) })
			if !ts.logged(challenge) {
				t.Errorf("no %s challenge in the log", challenge)
			}

			// No issuance for a name that is not configured.
			if c, err := tls.Dial("tcp", ts.addr(), &tls.Config{ServerName: "mta-sts.evil.test", RootCAs: roots}); err == nil {
				c.Close()
				t.Errorf("handshake for an unconfigured name succeeded")
			}
			time.Sleep(300 * time.Millisecond)
			filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
				if strings.Contains(path, "evil") {
					t.Errorf("something was stored for an unconfigured name: %s", path)
				}
				return nil
			})
		})
	}
}
