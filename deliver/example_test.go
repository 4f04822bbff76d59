package deliver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// A message to bob@example.com sent under example.com's MTA-STS policy in
// mode enforce: its one MX host matches the policy and presents a valid
// certificate over STARTTLS, so the message goes out over verified TLS.
// (The servers of example.com run on loopback: see startExampleCom.)
func ExampleSender_Send() {
	ex := startExampleCom()
	defer ex.close()

	dnsClient, err := dnsx.NewFromAddr(ex.dnsAddr)
	if err != nil {
		log.Fatal(err)
	}
	r, err := resolver.New(resolver.Config{DNS: dnsClient, Fetch: ex.fetchOptions()})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	s := &deliver.Sender{Resolver: r, DNS: dnsClient, RootCAs: ex.roots, Dial: ex.dialMX, HeloName: "sender.example"}

	msg := "From: alice@sender.example\r\nTo: bob@example.com\r\nSubject: hello\r\n\r\nHello over verified TLS.\r\n"
	res, err := s.Send(context.Background(), "alice@sender.example", []string{"bob@example.com"}, []byte(msg))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("policy:", res.Decision.Kind, res.Decision.MX)
	for _, a := range res.Attempts {
		fmt.Println("attempt:", a.Host, a.Outcome, "TLS:", a.TLS)
	}
	fmt.Println("accepted:", res.Accepted)
	fmt.Println("received:", <-ex.received)
	// Output:
	// policy: enforce [mx.example.com]
	// attempt: mx.example.com delivered TLS: true
	// accepted: [bob@example.com]
	// received: bob@example.com over TLS
}

// exampleCom is the servers of example.com on loopback: a DNS server with
// its MX and _mta-sts records, its policy host and its MX host, both with
// the test certificate of net/http/httptest, valid for *.example.com.
type exampleCom struct {
	dnsAddr  string
	roots    *x509.CertPool
	policy   *httptest.Server
	mx       net.Listener
	received chan string
	close    func()
}

func startExampleCom() *exampleCom {
	ex := &exampleCom{received: make(chan string, 1)}

	zone := map[uint16]string{
		dns.TypeMX:  "example.com. 300 IN MX 10 mx.example.com.",
		dns.TypeTXT: `_mta-sts.example.com. 300 IN TXT "v=STSv1; id=20260101;"`,
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	dnsServer := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if rr, err := dns.NewRR(zone[q.Question[0].Qtype]); err == nil && rr != nil && strings.EqualFold(rr.Header().Name, q.Question[0].Name) {
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go dnsServer.ActivateAndServe()
	ex.dnsAddr = pc.LocalAddr().String()

	ex.policy = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n")
	}))
	ex.roots = x509.NewCertPool()
	ex.roots.AddCert(ex.policy.Certificate())

	mx := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{conn: c, received: ex.received}, nil
	}))
	mx.Domain = "mx.example.com"
	mx.TLSConfig = &tls.Config{Certificates: ex.policy.TLS.Certificates}
	if ex.mx, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	go mx.Serve(ex.mx)

	ex.close = func() {
		mx.Close()
		ex.policy.Close()
		dnsServer.Shutdown()
	}
	return ex
}

// fetchOptions send policy fetches to the policy host.
func (ex *exampleCom) fetchOptions() sts.FetchOptions {
	return sts.FetchOptions{RootCAs: ex.roots, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ex.policy.Listener.Addr().String())
	}}
}

// dialMX connects to the MX host, whatever the address asked.
func (ex *exampleCom) dialMX(ctx context.Context, network, _ string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, network, ex.mx.Addr().String())
}

// session is an SMTP session of the MX host; it reports each message's
// recipients and whether it came over TLS.
type session struct {
	conn     *smtp.Conn
	to       []string
	received chan string
}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	_, tlsOn := s.conn.TLSConnectionState()
	how := "in plain text"
	if tlsOn {
		how = "over TLS"
	}
	s.received <- strings.Join(s.to, ",") + " " + how
	return nil
}

func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }
