package testworld

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FarmOptions configure World.NewFarm.
type FarmOptions struct {
	// Addrs, if set, are IPv4 addresses the farm listens on at the real
	// ports 443 and 25, such as "127.2.0.1" (which needs the privilege to
	// bind low ports); hosts are spread over them, so that programs outside
	// the test process reach them through the world's DNS alone. Empty
	// means farmListeners HTTPS and SMTP listeners on loopback ports, each
	// host an address of its own (World.HostIP) mapped to one of them and
	// reached through World.DialContext.
	Addrs []string
}

// farmListeners is how many HTTPS and SMTP listeners a farm without
// FarmOptions.Addrs opens, so that the connections of a large benchmark
// spread over many destination ports, each with its own range of source
// ports (tens of thousands of connections to one port exhaust it with
// TIME_WAIT sockets).
const farmListeners = 16

// Farm serves the policy hosts and MX hosts of many domains from a few
// shared listeners, for tests and benchmarks with thousands of domains
// (one listener per host would exhaust file descriptors): one HTTPS server
// that picks the certificate by SNI and the policy by Host, and one ESMTP
// server with STARTTLS that picks the certificate by SNI. Every host
// still has its own DNS records and certificate. All methods are safe for
// concurrent use.
type Farm struct {
	w      *World
	t      testing.TB
	addrs  []string // with FarmOptions.Addrs
	https  []string // shared loopback listeners, without Addrs
	smtp   []string
	server *SMTPServer

	mu       sync.RWMutex
	next     int
	hostIPs  map[string]string           // host → address, with Addrs
	certs    map[string]*tls.Certificate // host → certificate
	policies map[string][]byte           // policy host → policy
}

// NewFarm starts a farm in w; it stops with w.
func (w *World) NewFarm(o FarmOptions) *Farm {
	w.t.Helper()
	f := &Farm{
		w: w, t: w.t, addrs: o.Addrs,
		hostIPs:  map[string]string{},
		certs:    map[string]*tls.Certificate{},
		policies: map[string][]byte{},
	}
	var webs, mails []net.Listener
	listen := func(addr string) net.Listener {
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			w.t.Fatalf("testworld: farm: %v", err)
		}
		w.t.Cleanup(func() { l.Close() })
		return l
	}
	if len(o.Addrs) == 0 {
		for range farmListeners {
			webs = append(webs, listen("127.0.0.1:0"))
			mails = append(mails, listen("127.0.0.1:0"))
			f.https = append(f.https, webs[len(webs)-1].Addr().String())
			f.smtp = append(f.smtp, mails[len(mails)-1].Addr().String())
		}
	}
	for _, a := range o.Addrs {
		webs = append(webs, listen(net.JoinHostPort(a, "443")))
		mails = append(mails, listen(net.JoinHostPort(a, "25")))
	}
	cfg := &tls.Config{NextProtos: []string{"http/1.1"}, GetCertificate: f.certificate}
	srv := &http.Server{
		Handler:           http.HandlerFunc(f.serveHTTP),
		ErrorLog:          newLogger(w.t, "farm https"),
		ReadHeaderTimeout: 10 * time.Second,
	}
	var served sync.WaitGroup
	for _, l := range webs {
		served.Go(func() {
			if err := srv.Serve(tls.NewListener(l, cfg)); !errors.Is(err, http.ErrServerClosed) {
				w.t.Errorf("testworld: farm HTTPS server on %s: %v", l.Addr(), err)
			}
		})
	}
	w.t.Cleanup(func() {
		srv.Close()
		served.Wait()
	})
	f.server = serveSMTP(w.t, mails, "farm.testworld", &tls.Config{GetCertificate: f.certificate})
	return f
}

// PolicyDomain publishes an MTA-STS policy for domain as
// World.PolicyDomain does, served by the farm: the TXT record
// "_mta-sts.<domain>" and the policy host "mta-sts.<domain>" with a valid
// certificate.
func (f *Farm) PolicyDomain(domain, policy string) {
	f.t.Helper()
	name := hostname(domain)
	f.w.DNS.TXT("_mta-sts."+name, "v=STSv1; id=farm"+strconv.FormatUint(policyIDs.Add(1), 10)+";")
	host := "mta-sts." + name
	f.addHost(host, 443)
	f.mu.Lock()
	f.policies[host] = []byte(policy)
	f.mu.Unlock()
}

// MXHost makes the farm's ESMTP server answer for host, with a valid
// certificate.
func (f *Farm) MXHost(host string) {
	f.t.Helper()
	f.addHost(hostname(host), 25)
}

// SetCert makes the farm present c for host (a policy host or an MX host).
func (f *Farm) SetCert(host string, c *tls.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.certs[hostname(host)] = c
}

// SMTP returns the farm's ESMTP server, which keeps the messages of every
// MX host.
func (f *Farm) SMTP() *SMTPServer { return f.server }

// addHost gives host an address served by the farm on the logical port
// and a certificate.
func (f *Farm) addHost(host string, port int) {
	f.t.Helper()
	cert := f.w.CA.Valid(f.t, host)
	f.mu.Lock()
	if f.certs[host] == nil {
		f.certs[host] = cert
	}
	ip, known := f.hostIPs[host]
	if len(f.addrs) > 0 && !known {
		ip = f.addrs[f.next%len(f.addrs)]
		f.hostIPs[host] = ip
	}
	n := f.next
	f.next++
	f.mu.Unlock()
	if len(f.addrs) > 0 {
		if !known {
			f.w.DNS.Add(host + ". 300 IN A " + ip)
		}
		return
	}
	real := f.https[n%len(f.https)]
	if port == 25 {
		real = f.smtp[n%len(f.smtp)]
	}
	logical := net.JoinHostPort(f.w.HostIP(host).String(), strconv.Itoa(port))
	if !f.w.mapPort(logical, real) {
		f.t.Fatalf("testworld: farm: %s port %d is already served", host, port)
	}
}

// certificate picks the certificate for the SNI name of hello.
func (f *Farm) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if c := f.certs[hostname(hello.ServerName)]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("testworld: farm: no certificate for SNI %q", hello.ServerName)
}

// serveHTTP serves the policy of the host the request names.
func (f *Farm) serveHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	f.mu.RLock()
	policy, ok := f.policies[strings.ToLower(host)]
	f.mu.RUnlock()
	if !ok || r.URL.Path != PolicyPath {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(policy)))
	_, _ = w.Write(policy)
}
