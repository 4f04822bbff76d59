package policyhost

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// bind is a BIND 9 name server started by a test, primary for one zone
// whose _mta-sts record a TSIG key may update (RFC 2136).
type bind struct {
	addr   string
	update DNSUpdateConfig
	logs   *syncBuffer
}

// startBIND starts named(8) for zone on a loopback port; it is skipped
// without BIND (Debian package bind9) unless MTASTS_REQUIRE_SERVICES=1.
// The key may update the TXT records of _mta-sts.<zone> and of
// _acme-challenge.mta-sts.<zone> (ACME DNS-01).
func startBIND(t *testing.T, zone string) *bind {
	t.Helper()
	named := requireTool(t, "named")
	dir := t.TempDir()
	secret := make([]byte, 32)
	rand.Read(secret)
	b := &bind{update: DNSUpdateConfig{KeyName: "mtasts-key", Algorithm: "hmac-sha256", Secret: base64.StdEncoding.EncodeToString(secret), TTL: 300, Timeout: 5 * time.Second}}
	port := freePort(t)
	b.addr = net.JoinHostPort("127.0.0.1", port)
	b.update.Server = b.addr
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
};
controls { };
key "mtasts-key." { algorithm hmac-sha256; secret "%[3]s"; };
zone "%[4]s" {
	type primary;
	file "%[1]s/zone.db";
	update-policy {
		grant mtasts-key. name _mta-sts.%[4]s. TXT;
		grant mtasts-key. name _acme-challenge.mta-sts.%[4]s. TXT;
	};
};
`, dir, port, b.update.Secret, zone)
	zoneFile := fmt.Sprintf("$TTL 300\n@ IN SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 86400 300\n@ IN NS ns.%[1]s.\nns IN A 127.0.0.1\n_mta-sts IN TXT \"v=STSv1; id=old1;\"\n", zone)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zone.db"), []byte(zoneFile), 0o644); err != nil {
		t.Fatal(err)
	}
	b.logs = startProgram(t, "named", exec.Command(named, "-g", "-c", filepath.Join(dir, "named.conf")))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := b.txt(zone); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not start:\n%s", b.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// txt returns the TXT records of _mta-sts.<domain> on the server.
func (b *bind) txt(domain string) ([]string, error) {
	return b.txtAt("_mta-sts." + domain + ".")
}

// txtAt returns the TXT records of name on the server; none if the name
// does not exist.
func (b *bind) txtAt(name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeTXT)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(q, b.addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// RFC 2136 update signed with TSIG, against a real BIND.
func TestUpdateRecordBIND(t *testing.T) {
	b := startBIND(t, "example.test")
	ctx := context.Background()
	updated, err := UpdateRecord(ctx, b.update, "example.test", "example.test", "20261126120000")
	if err != nil || !updated {
		t.Fatalf("UpdateRecord: %v %v", updated, err)
	}
	if got, err := b.txt("example.test"); err != nil || len(got) != 1 || got[0] != "v=STSv1; id=20261126120000;" {
		t.Fatalf("after update: %q %v", got, err)
	}
	if updated, err := UpdateRecord(ctx, b.update, "example.test", "example.test", "20261126120000"); err != nil || updated {
		t.Errorf("second update of the same id: %v %v", updated, err)
	}
	bad := b.update
	bad.Secret = base64.StdEncoding.EncodeToString([]byte("not the key at all, not the key"))
	if _, err := UpdateRecord(ctx, bad, "example.test", "example.test", "x1"); err == nil {
		t.Errorf("update with a wrong TSIG key succeeded")
	}
	if got, _ := b.txt("example.test"); len(got) != 1 || got[0] != "v=STSv1; id=20261126120000;" {
		t.Errorf("after the refused update: %q", got)
	}
}

// The server publishes the id itself: at start and whenever the policy
// changes.
func TestServerDNSUpdate(t *testing.T) {
	b := startBIND(t, "example.test")
	w := testworld.New(t)
	cfg := testConfig(t, w, "example.test")
	cfg.DNSUpdate = b.update
	ts := startSite(t, cfg, Options{})
	id1 := policyID(t, ts.srv, "example.test")
	if got, _ := b.txt("example.test"); len(got) != 1 || got[0] != "v=STSv1; id="+id1+";" {
		t.Fatalf("after start: %q, want id %s", got, id1)
	}
	next := cfg
	next.Domains = append([]DomainConfig(nil), cfg.Domains...)
	next.Domains[0].MX = []string{"mx9.example.test"}
	if err := ts.srv.Reload(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	id2 := policyID(t, ts.srv, "example.test")
	if got, _ := b.txt("example.test"); id2 == id1 || len(got) != 1 || got[0] != "v=STSv1; id="+id2+";" {
		t.Errorf("after the change: %q, want id %s (was %s)", got, id2, id1)
	}
	if got := metricValue(t, ts, `mtasts_serve_dns_updates_total{domain="example.test",result="success"}`); got != 2 {
		t.Errorf("updates metric %v", got)
	}
}
