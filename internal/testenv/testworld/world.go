package testworld

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// World is a small fake internet: one DNS server that is authoritative for
// every name, one CA that every host's certificate comes from, and hosts
// that each own a loopback IPv4 address with servers behind logical ports
// (443, 25) that DialContext maps to the real listeners.
type World struct {
	// DNS is the world's only DNS server; HostIP adds A records to it.
	DNS *DNS
	// CA issues the default certificates of HTTPS hosts and SMTP servers.
	CA *CA

	t testing.TB

	startMu   sync.Mutex // serialises HTTPSHost so a host starts once
	mu        sync.Mutex
	caFile    string
	ips       map[string]net.IP     // canonical host name → address
	ports     map[string]string     // "ip:logical port" → real listener address
	https     map[string]*HTTPSHost // canonical host name → host
	policyIDs map[string]string     // canonical policy domain → current id
}

// New starts a world whose servers all stop in t.Cleanup.
func New(t testing.TB) *World {
	t.Helper()
	return &World{
		DNS:       NewDNS(t),
		CA:        NewCA(t, "testworld"),
		t:         t,
		ips:       map[string]net.IP{},
		ports:     map[string]string{},
		https:     map[string]*HTTPSHost{},
		policyIDs: map[string]string{},
	}
}

// Resolver returns the DNS server address, "127.0.0.1:port", for clients'
// resolver options (--resolver).
func (w *World) Resolver() string { return w.DNS.Addr() }

// RootCAs returns a pool trusting only the world's CA.
func (w *World) RootCAs() *x509.CertPool { return w.CA.Pool() }

// CAFile returns the path of a PEM file holding the world's CA certificate
// (for --ca-file or SSL_CERT_FILE). The file is written once per world.
func (w *World) CAFile() string {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.caFile == "" {
		w.caFile = w.CA.WriteFile(w.t)
	}
	return w.caFile
}

// nextHost numbers the loopback addresses handed out by HostIP, across all
// worlds of the process so that parallel tests never share an address.
var nextHost atomic.Uint32

// HostIP returns the loopback IPv4 address of host, allocating it from
// 127.1.0.0 upwards on first use and adding the A record host → address.
func (w *World) HostIP(host string) net.IP {
	w.t.Helper()
	name := canonical(host)
	w.mu.Lock()
	defer w.mu.Unlock()
	if ip, ok := w.ips[name]; ok {
		return append(net.IP(nil), ip...)
	}
	n := nextHost.Add(1)
	if n >= 254<<16 {
		w.t.Fatalf("testworld: out of loopback addresses for %s", host)
	}
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, 127<<24|1<<16+n)
	w.ips[name] = ip
	w.DNS.Add(name + " 300 IN A " + ip.String())
	return append(net.IP(nil), ip...)
}

// Listen returns a listener for host's logical port (for example 25 or
// 443, which need no privileges here): it listens on HostIP(host):0 and
// DialContext connects host:port to it. It is closed by t.Cleanup. Use it
// to put a custom server into the world; a second Listen for the same host
// and port fails the test.
func (w *World) Listen(host string, port int) net.Listener {
	w.t.Helper()
	ip := w.HostIP(host)
	logical := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	l, err := net.Listen("tcp4", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		w.t.Fatalf("testworld: listening for %s (%s): %v", host, logical, err)
	}
	w.t.Cleanup(func() { l.Close() })
	if !w.mapPort(logical, l.Addr().String()) {
		l.Close()
		w.t.Fatalf("testworld: %s port %d is already served", host, port)
	}
	return l
}

// mapPort makes DialContext connect the logical address "ip:port" to the
// real listener address. It reports false if logical is already served.
func (w *World) mapPort(logical, real string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.ports[logical]; dup {
		return false
	}
	w.ports[logical] = real
	return true
}

// DialContext connects to addr, "host:port" or "ip:port", as if over the
// internet: host names are resolved with A queries to the world's DNS
// server (so a host without an A record fails with a *net.DNSError), and a
// logical port served in the world is mapped to its real listener. Other
// addresses are dialled as they are, which on loopback usually means
// "connection refused". Only TCP networks are supported.
func (w *World) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4":
	default:
		return nil, fmt.Errorf("testworld: dial %s %s: only tcp is supported", network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("testworld: dial %s: %w", addr, err)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if ips, err = w.lookupA(ctx, host); err != nil {
		return nil, fmt.Errorf("testworld: dial %s: %w", addr, err)
	}

	var d net.Dialer
	var errs []error
	for _, ip := range ips {
		target := net.JoinHostPort(ip.String(), port)
		w.mu.Lock()
		listener, ok := w.ports[target]
		w.mu.Unlock()
		if !ok {
			listener = target
		}
		c, err := d.DialContext(ctx, network, listener)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("testworld: dial %s (%s): %w", addr, target, err))
	}
	return nil, errors.Join(errs...)
}

// lookupA resolves host to IPv4 addresses with the world's DNS server,
// retrying over TCP when the UDP answer is truncated.
func (w *World) lookupA(ctx context.Context, host string) ([]net.IP, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), dns.TypeA)
	r, _, err := (&dns.Client{Net: "udp"}).ExchangeContext(ctx, m, w.Resolver())
	if err == nil && r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp"}).ExchangeContext(ctx, m, w.Resolver())
	}
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host, Server: w.Resolver(), IsTimeout: isTimeout(err), IsTemporary: true}
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[r.Rcode], Name: host, Server: w.Resolver(), IsTemporary: true}
	}
	var ips []net.IP
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A)
		}
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: w.Resolver(), IsNotFound: true}
	}
	return ips, nil
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// HTTPClient returns an HTTP client that dials through DialContext and
// trusts only the world's CA.
func (w *World) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:     w.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: w.RootCAs()},
	}}
}

// HTTPSHost returns the HTTPS server of host on logical port 443, starting
// it on first use with the certificate w.CA.Valid(host). Later calls for the
// same host return the same server.
func (w *World) HTTPSHost(host string) *HTTPSHost {
	w.t.Helper()
	name := canonical(host)
	w.startMu.Lock()
	defer w.startMu.Unlock()
	w.mu.Lock()
	h, ok := w.https[name]
	w.mu.Unlock()
	if ok {
		return h
	}
	h = newHTTPSHost(w.t, w.Listen(host, 443), w.CA.Valid(w.t, hostname(host)))
	w.mu.Lock()
	w.https[name] = h
	w.mu.Unlock()
	return h
}

// SMTP starts an ESMTP server for host on logical port 25. A second call
// for the same host fails the test.
func (w *World) SMTP(host string, o SMTPOptions) *SMTPServer {
	w.t.Helper()
	if o.Hostname == "" {
		o.Hostname = hostname(host)
	}
	if o.Cert == nil && !o.NoSTARTTLS {
		o.Cert = w.CA.Valid(w.t, hostname(host))
	}
	return newSMTPServer(w.t, w.Listen(host, 25), o)
}

// policyIDs numbers the policy ids handed out by PolicyDomain.
var policyIDs atomic.Uint64

// PolicyDomain publishes an MTA-STS policy for domain (RFC 8461 §3): the
// TXT record "_mta-sts.<domain>" "v=STSv1; id=<fresh id>;" and the HTTPS host
// "mta-sts.<domain>" serving policy at /.well-known/mta-sts.txt as
// text/plain. Calling it again for the same domain replaces the record (with
// a new id) and the policy, as a domain owner updating its policy would.
func (w *World) PolicyDomain(domain, policy string) *HTTPSHost {
	w.t.Helper()
	name := canonical(domain)
	id := "testworld" + strconv.FormatUint(policyIDs.Add(1), 10)
	txt := "_mta-sts." + name
	w.DNS.Remove(txt, dns.TypeTXT)
	w.DNS.TXT(txt, "v=STSv1; id="+id+";")
	w.mu.Lock()
	w.policyIDs[name] = id
	w.mu.Unlock()

	h := w.HTTPSHost("mta-sts." + hostname(domain))
	h.Set(PolicyPath, Response{
		Header: http.Header{"Content-Type": {"text/plain"}},
		Body:   []byte(policy),
	})
	return h
}

// PolicyPath is where RFC 8461 §3.3 puts the policy on the policy host.
const PolicyPath = "/.well-known/mta-sts.txt"

// PolicyID returns the id that PolicyDomain last published for domain, or
// "" if it published none.
func (w *World) PolicyID(domain string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.policyIDs[canonical(domain)]
}

// hostname returns name lower-cased and without the trailing dot, as used
// in certificates and EHLO.
func hostname(name string) string {
	return strings.TrimSuffix(canonical(name), ".")
}
