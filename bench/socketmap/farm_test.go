package socketmapbench

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// farm publishes MTA-STS policies for many domains from one HTTPS server
// of a testworld, so that thousands of policy domains cost one listener:
// every mta-sts.<domain> has an A record pointing at the farm's address,
// and the farm presents a certificate for the name the client asks for
// (SNI) and serves that domain's policy.
type farm struct {
	host  string // the farm's host name in the world
	ip    string
	certs map[string]*tls.Certificate // "mta-sts.<domain>" → certificate
}

// policyFor is the enforce policy of every farm domain.
func policyFor(domain string) string {
	return fmt.Sprintf("version: STSv1\r\nmode: enforce\r\nmx: mx1.%s\r\nmx: *.mail.%s\r\nmax_age: 604800\r\n", domain, domain)
}

// newFarm publishes a policy for each of domains and starts the server.
func newFarm(t *testing.T, w *testworld.World, domains []string) *farm {
	t.Helper()
	f := &farm{host: "farm.bench", certs: make(map[string]*tls.Certificate, len(domains))}
	f.ip = w.HostIP(f.host).String()
	var records []string
	for _, d := range domains {
		name := "mta-sts." + d
		f.certs[name] = w.CA.Valid(t, name)
		records = append(records, name+". 86400 IN A "+f.ip)
		w.DNS.TXT("_mta-sts."+d, "v=STSv1; id=bench1;")
	}
	w.DNS.Add(records...)

	l := w.Listen(f.host, 443)
	srv := &http.Server{
		Handler:           http.HandlerFunc(f.serve),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, ok := f.certs[strings.ToLower(hello.ServerName)]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("farm: no certificate for %q", hello.ServerName)
		}},
		ErrorLog: nil,
	}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *farm) serve(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	domain, ok := strings.CutPrefix(strings.ToLower(host), "mta-sts.")
	if _, known := f.certs["mta-sts."+domain]; !ok || !known || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, policyFor(domain))
}
