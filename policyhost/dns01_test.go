package policyhost

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// The DNS-01 provider adds challenge records beside each other and
// removes exactly the one asked, against a real BIND.
func TestDNS01ProviderBIND(t *testing.T) {
	b := startBIND(t, "example.test")
	p := &dns01Provider{primary: newPrimary(b.update)}
	const name = "_acme-challenge.mta-sts.example.test."
	long := strings.Repeat("0123456789", 30) // two TXT strings on the wire
	rec := func(text string) libdns.Record {
		return libdns.RR{Name: "_acme-challenge.mta-sts", Type: "TXT", TTL: time.Minute, Data: text}
	}
	want := func(what string, texts ...string) {
		t.Helper()
		got, err := b.txtAt(name)
		slices.Sort(got)
		slices.Sort(texts)
		if err != nil || !slices.Equal(got, texts) {
			t.Fatalf("%s: %q %v, want %q", what, got, err, texts)
		}
	}

	added, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{rec("token-1"), rec(long)})
	if err != nil || len(added) != 2 {
		t.Fatalf("AppendRecords: %v %v", added, err)
	}
	if _, err := p.AppendRecords(t.Context(), "example.test", []libdns.Record{rec("token-2")}); err != nil {
		t.Fatal(err)
	}
	want("after adding", "token-1", long, "token-2")

	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{rec("token-1")}); err != nil {
		t.Fatal(err)
	}
	want("after deleting one", long, "token-2")
	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{rec("token-1")}); err != nil {
		t.Errorf("deleting a record no longer there: %v", err)
	}
	if _, err := p.DeleteRecords(t.Context(), "example.test.", []libdns.Record{rec("")}); err != nil {
		t.Fatal(err)
	}
	want("after deleting all")

	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{libdns.RR{Name: "_acme-challenge.mta-sts", Type: "CNAME", Data: "x.example.test."}}); err == nil {
		t.Errorf("a CNAME record was accepted")
	}
	// The key may not touch other names.
	if _, err := p.AppendRecords(t.Context(), "example.test.", []libdns.Record{libdns.RR{Name: "www", Type: "TXT", Data: "x"}}); err == nil || !strings.Contains(err.Error(), "REFUSED") {
		t.Errorf("update outside the key's grant: %v", err)
	}
}

// Real ACME issuance by DNS-01 alone: pebble resolves through a BIND that
// serve updates, and can reach neither HTTP-01 nor TLS-ALPN-01 (there is
// no address for the policy host, and nothing listens on its ports). The
// challenge record is added, awaited, validated and removed.
func TestACMEDNS01(t *testing.T) {
	b := startBIND(t, "example.test")
	w := testworld.New(t)
	httpsL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed, _ := strconv.Atoi(freePort(t))
	p := startPebble(t, w, b.addr, closed, closed)

	cfg := testConfig(t, w, "example.test")
	cfg.Domains[0].CertFile, cfg.Domains[0].KeyFile = "", ""
	cfg.ACME = ACMEConfig{Enabled: true, DirectoryURL: p.directory, Email: "hostmaster@example.test", AgreeTOS: true, CAFile: w.CAFile(), DNS01: true}
	cfg.DNSUpdate = b.update
	ts := startSiteOn(t, cfg, Options{}, &Listeners{HTTPS: httpsL})

	roots := p.roots(t)
	var f *sts.Fetched
	deadline := time.Now().Add(60 * time.Second)
	for {
		f, err = sts.FetchPolicy(t.Context(), "example.test", sts.FetchOptions{RootCAs: roots, DialContext: ts.dialer(), Timeout: 5 * time.Second})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no certificate from pebble: %v\n%s", err, ts.logs)
	}
	if f.Policy.Mode != sts.ModeEnforce {
		t.Errorf("policy %+v", f.Policy)
	}
	const solving = "trying to solve challenge"
	if !ts.logged(solving, "dns-01") || ts.logged(solving, "http-01") || ts.logged(solving, "tls-alpn-01") {
		t.Errorf("not DNS-01 alone:\n%s", ts.logs)
	}
	if !ts.logged("checking DNS propagation", b.addr) {
		t.Errorf("the record was not awaited on the update server:\n%s", ts.logs)
	}

	const name = "_acme-challenge.mta-sts.example.test"
	if !strings.Contains(b.logs.String(), "adding an RR at '"+name+"' TXT") {
		t.Errorf("named did not add the challenge record:\n%s", b.logs)
	}
	waitFor(t, "the challenge record to go", func() bool {
		got, err := b.txtAt(name + ".")
		return err == nil && len(got) == 0
	})
	if !strings.Contains(b.logs.String(), "deleting an RR at "+name+" TXT") {
		t.Errorf("named did not delete the challenge record:\n%s", b.logs)
	}
}
