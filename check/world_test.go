package check

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// site describes a domain to publish in a test world. The zero value is a
// correct deployment: MX mx1.<domain>, an enforce policy covering it, a
// valid certificate everywhere and a TLS-RPT record.
type site struct {
	mode     string            // policy mode; default enforce
	policy   string            // whole policy text; default built from mode, mx and patterns
	mx       []string          // MX host labels below the domain; default ["mx1"]
	patterns []string          // policy mx patterns; default the MX hosts
	record   string            // _mta-sts TXT record replacing the published one
	noSTS    bool              // publish neither record nor policy host
	hostless bool              // publish the record but no policy host
	noTLSRPT bool              // publish no _smtp._tls record
	smtp     map[string]func() // MX label → custom server (or none); default a good ESMTP server
}

// publish puts s for domain d into w and returns the full MX host names.
func publish(t *testing.T, w *testworld.World, d string, s site) []string {
	t.Helper()
	if s.mx == nil {
		s.mx = []string{"mx1"}
	}
	var hosts []string
	for i, label := range s.mx {
		host := label + "." + d
		hosts = append(hosts, host)
		w.DNS.Add(d + ". MX " + strconv.Itoa((i+1)*10) + " " + host + ".")
		if start, ok := s.smtp[label]; ok {
			if start != nil {
				start()
			}
			continue
		}
		w.SMTP(host, testworld.SMTPOptions{})
	}
	if s.patterns == nil {
		s.patterns = hosts
	}
	if s.mode == "" {
		s.mode = "enforce"
	}
	if s.policy == "" {
		s.policy = "version: STSv1\nmode: " + s.mode + "\n"
		for _, p := range s.patterns {
			s.policy += "mx: " + p + "\n"
		}
		s.policy += "max_age: 1209600\n"
	}
	switch {
	case s.noSTS:
	case s.hostless:
		w.DNS.TXT("_mta-sts."+d, "v=STSv1; id=1;")
	default:
		w.PolicyDomain(d, s.policy)
	}
	if s.record != "" {
		w.DNS.Remove("_mta-sts."+d, dns.TypeTXT)
		w.DNS.TXT("_mta-sts."+d, s.record)
	}
	if !s.noTLSRPT {
		w.DNS.TXT("_smtp._tls."+d, "v=TLSRPTv1; rua=mailto:tlsrpt@"+d)
	}
	return hosts
}

// serve answers every connection accepted on l with handle, until the
// test ends.
func serve(t *testing.T, l net.Listener, handle func(c net.Conn, r *bufio.Reader)) {
	t.Helper()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
}

// smtpRefusing is an SMTP server that turns every client away in its
// greeting.
func smtpRefusing(c net.Conn, r *bufio.Reader) {
	c.Write([]byte("554 5.3.2 no service here\r\n"))
	r.ReadString('\n')
}

// smtpBrokenTLS is an SMTP server that offers STARTTLS and then answers
// the TLS ClientHello with garbage.
func smtpBrokenTLS(c net.Conn, r *bufio.Reader) {
	c.Write([]byte("220 broken.test ESMTP\r\n"))
	if _, err := r.ReadString('\n'); err != nil { // EHLO
		return
	}
	c.Write([]byte("250-broken.test\r\n250 STARTTLS\r\n"))
	if _, err := r.ReadString('\n'); err != nil { // STARTTLS
		return
	}
	c.Write([]byte("220 go ahead\r\n"))
	buf := make([]byte, 5)
	if _, err := r.Read(buf); err != nil { // the ClientHello
		return
	}
	c.Write([]byte("this is not TLS\r\n"))
}

// httpPlain answers on the HTTPS port in plain HTTP.
func httpPlain(c net.Conn, r *bufio.Reader) {
	r.ReadString('\n')
	c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
}

// checkIn checks domain d of w with options edited by edit.
func checkIn(t *testing.T, w *testworld.World, d string, edit func(*Options)) *Result {
	t.Helper()
	o := Options{Resolver: w.Resolver(), RootCAs: w.RootCAs(), Dial: w.DialContext, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&o)
	}
	res, err := Check(context.Background(), d, o)
	if err != nil {
		t.Fatalf("Check(%s): %v", d, err)
	}
	return res
}
