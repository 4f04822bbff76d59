package testworld

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestHostIP(t *testing.T) {
	w1, w2 := New(t), New(t)
	a := w1.HostIP("a.example")
	if !a.Equal(w1.HostIP("A.example.")) {
		t.Errorf("HostIP not stable")
	}
	b, c := w1.HostIP("b.example"), w2.HostIP("a.example")
	if a.Equal(b) || a.Equal(c) {
		t.Errorf("addresses collide: %v %v %v", a, b, c)
	}
	if !a.IsLoopback() || a.To4() == nil || a.To4()[1] == 0 {
		t.Errorf("HostIP %v not in 127.1.0.0 and up", a)
	}
	r := query(t, w1.DNS, "udp", "a.example.", dns.TypeA, false)
	if len(r.Answer) != 1 || !r.Answer[0].(*dns.A).A.Equal(a) {
		t.Errorf("A record: %v", r.Answer)
	}
	if path := w1.CAFile(); w1.CAFile() != path {
		t.Errorf("CAFile written twice")
	}
	if _, err := os.Stat(w1.CAFile()); err != nil {
		t.Error(err)
	}
}

func TestDialContext(t *testing.T) {
	w := New(t)
	l := w.Listen("svc.example", 7)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	w.DNS.Add("alias.example. CNAME svc.example.")
	ctx := context.Background()
	read := func(addr string) (string, error) {
		c, err := w.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	ip := w.HostIP("svc.example").String()
	for _, addr := range []string{"svc.example:7", "SVC.example.:7", "alias.example:7", net.JoinHostPort(ip, "7")} {
		if got, err := read(addr); err != nil || got != "hello" {
			t.Errorf("%s: %q %v", addr, got, err)
		}
	}

	w.DNS.SetTruncate(true)
	if got, err := read("svc.example:7"); err != nil || got != "hello" {
		t.Errorf("truncated DNS: %q %v", got, err)
	}
	w.DNS.SetTruncate(false)

	var dnsErr *net.DNSError
	if _, err := read("nowhere.example:7"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("no A record: %v", err)
	}
	w.DNS.SetRcode("svc.example", dns.TypeA, dns.RcodeServerFailure)
	if _, err := read("svc.example:7"); !errors.As(err, &dnsErr) || dnsErr.IsNotFound || !dnsErr.IsTemporary {
		t.Errorf("SERVFAIL: %v", err)
	}
	w.DNS.SetRcode("svc.example", dns.TypeA, dns.RcodeSuccess)

	w.DNS.Drop("svc.example", dns.TypeA)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := w.DialContext(tctx, "tcp", "svc.example:7"); !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("dropped query: %v", err)
	}
	w.DNS.Undrop("svc.example", dns.TypeA)

	if _, err := read("svc.example:25"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("unmapped port: %v", err)
	}
	if _, err := w.DialContext(ctx, "udp", "svc.example:7"); err == nil {
		t.Errorf("udp dial succeeded")
	}
}
