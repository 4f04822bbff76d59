package tlsrptsend

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/tlsrpt"
)

// Datagrams as libtlsrpt 0.5 writes them (libtlsrpt.c): string members
// as `"k": "v"` with a space, numbers as `"k":1` without, the policy's
// lists only when not empty, the counts last.
const (
	dgSuccess  = `{"dpv": "1","d": "example.com","pr": "v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain": "example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"],"t":0,"f":0}]}`
	dgFailure  = `{"dpv": "1","d": "example.com","pr": "v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain": "example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"],"failure-details":[{"c":204,"s": "192.0.2.1","n": "mx.example.com","h": "mx.example.com","r": "2001:db8::25","a": "certificate has expired","f": "X509_V_ERR_CERT_HAS_EXPIRED"}],"t":1,"f":1}]}`
	dgNoPolicy = `{"dpv": "1","d": "Example.ORG","pr": "v=TLSRPTv1; rua=mailto:r@example.org","policies":[{"policy-type":9,"t":0,"f":0}]}`
)

// TestParseDatagram reads the datagrams of libtlsrpt's format and refuses
// what it does not write, naming the member.
func TestParseDatagram(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	sts := tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: "example.com",
		Strings: []string{"version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 86400"}, MXHosts: []string{"mx.example.com"}}
	good := []struct {
		name, dg string
		want     []Outcome
	}{
		{"success", dgSuccess, []Outcome{{Time: at, Policy: sts}}},
		{"failure", dgFailure, []Outcome{{Time: at, Policy: sts, Result: tlsrpt.ResultCertificateExpired, MXHost: "mx.example.com",
			SendingIP: netip.MustParseAddr("192.0.2.1"), ReceivingIP: netip.MustParseAddr("2001:db8::25"),
			AdditionalInfo: "certificate has expired", ReasonCode: "X509_V_ERR_CERT_HAS_EXPIRED"}}},
		{"no policy found, domain from d", dgNoPolicy, []Outcome{{Time: at, Policy: tlsrpt.Policy{Type: tlsrpt.PolicyNoPolicyFound, Domain: "example.org"}}}},
		{"escaped", `{"dpv": "1","d": "example.com","pr": "v=TLSRPTv1; rua=mailto:a\u0040example.com","policies":[{"policy-type":1,"policy-domain": "example.com","policy-string":["3 1 1 AB\"CD"],"t":0,"f":0}]}`,
			[]Outcome{{Time: at, Policy: tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: "example.com", Strings: []string{`3 1 1 AB"CD`}}}}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDatagram([]byte(tc.dg), at)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
	bad := []struct{ name, dg, field string }{
		{"not JSON", `{"dpv": "1",`, ""},
		{"trailing data", dgSuccess + `{}`, ""},
		{"no version", `{"d": "example.com","pr": "","policies":[{"policy-type":9,"t":0,"f":0}]}`, "dpv"},
		{"version 2", `{"dpv": "2","d": "example.com","pr": "","policies":[{"policy-type":9,"t":0,"f":0}]}`, "dpv"},
		{"no domain", `{"dpv": "1","pr": "","policies":[{"policy-type":9,"t":0,"f":0}]}`, "d"},
		{"no record", `{"dpv": "1","d": "example.com","policies":[{"policy-type":9,"t":0,"f":0}]}`, "pr"},
		{"no policies", `{"dpv": "1","d": "example.com","pr": ""}`, "policies"},
		{"unknown member", `{"dpv": "1","d": "example.com","pr": "","x": 1,"policies":[{"policy-type":9,"t":0,"f":0}]}`, ""},
		{"policy type", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":3,"t":0,"f":0}]}`, "policies[0].policy-type"},
		{"no counts", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":9}]}`, "policies[0]"},
		{"count", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":9,"t":1,"f":1}]}`, "policies[0].t"},
		{"final", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":9,"t":0,"f":2}]}`, "policies[0].f"},
		{"failure without details", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":9,"t":0,"f":1}]}`, "policies[0].f"},
		{"code", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":2,"failure-details":[{"c":901}],"t":1,"f":1}]}`, "policies[0].failure-details[0].c"},
		{"sending ip", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":2,"failure-details":[{"c":201,"s": "192.0.2"}],"t":1,"f":1}]}`, "policies[0].failure-details[0].s"},
		{"receiving ip", `{"dpv": "1","d": "example.com","pr": "","policies":[{"policy-type":2,"failure-details":[{"c":201,"r": "mx"}],"t":1,"f":1}]}`, "policies[0].failure-details[0].r"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDatagram([]byte(tc.dg), at)
			var de *DatagramError
			if !errors.Is(err, ErrDatagram) || !errors.As(err, &de) || de.Field != tc.field {
				t.Errorf("ParseDatagram: %v; want a DatagramError about %q", err, tc.field)
			}
		})
	}
}

// TestDatagramSocket sends datagrams to the socket as libtlsrpt does
// (sendto on an unbound SOCK_DGRAM socket): the outcomes of the valid
// ones are recorded, an invalid one is logged and skipped.
func TestDatagramSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tlsrpt.sock")
	bound := make(chan struct{})
	var mu sync.Mutex
	var got []Outcome
	done := make(chan struct{})
	rec := RecorderFunc(func(o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, o)
		if len(got) == 3 {
			close(done)
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	src := &DatagramSocket{Path: path, Bound: bound}
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, rec) }()
	<-bound
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o666 {
		t.Errorf("socket %v, %v; want mode 0666, for Postfix's smtp(8)", info, err)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, dg := range []string{dgSuccess, `{"dpv": "9"}`, dgFailure, dgNoPolicy} {
		if _, err := c.Write([]byte(dg)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("socket stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("outcomes never recorded")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	results := []tlsrpt.ResultType{got[0].Result, got[1].Result, got[2].Result}
	if want := []tlsrpt.ResultType{"", tlsrpt.ResultCertificateExpired, ""}; !cmp.Equal(results, want) {
		t.Errorf("results %q, want %q", results, want)
	}
}

func FuzzParseDatagram(f *testing.F) {
	for _, dg := range []string{dgSuccess, dgFailure, dgNoPolicy, `{"dpv": "1"}`, `[]`} {
		f.Add([]byte(dg))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		outcomes, err := ParseDatagram(b, time.Unix(0, 0))
		if err != nil {
			if !errors.Is(err, ErrDatagram) {
				t.Fatalf("error %v is not ErrDatagram", err)
			}
			return
		}
		for _, o := range outcomes {
			if !o.Policy.Type.Known() || o.Policy.Domain == "" || !o.Success() && !o.Result.Known() {
				t.Fatalf("outcome %+v from %q", o, b)
			}
		}
	})
}
