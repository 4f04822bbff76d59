package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtasts/mtasts/reportstore"
)

// startSMTP serves in over SMTP or LMTP on 127.0.0.1 and returns the
// address.
func startSMTP(t *testing.T, in *Ingester, o SMTPOptions) string {
	t.Helper()
	o.Domain = "tlsrpt.example.com"
	srv := in.NewSMTPServer(o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// deliver sends data from a sender to rcpt and returns the server's error.
func deliver(t *testing.T, addr string, lmtp bool, rcpt string, data []byte) error {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return deliverOn(t, conn, lmtp, rcpt, data)
}

// deliverOn is deliver on a connection made already.
func deliverOn(t *testing.T, conn net.Conn, lmtp bool, rcpt string, data []byte) error {
	t.Helper()
	var c *smtp.Client
	if lmtp {
		c = smtp.NewClientLMTP(conn)
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if err := c.Hello("mail-sor-f41.google.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("noreply-smtp-tls-reporting@google.com", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// RFC 8460 §5.3: reports delivered by mail, here straight to mtasts.
func TestSMTP(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		name := map[bool]string{false: "SMTP", true: "LMTP"}[lmtp]
		t.Run(name, func(t *testing.T) {
			in, store := newIngester(t, Config{MaxSize: 32 << 10})
			addr := startSMTP(t, in, SMTPOptions{LMTP: lmtp, Recipients: []string{"TLSRPT@example.com"}})
			google := readFile(t, "mail/google.eml")
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", google); err != nil {
				t.Fatalf("delivery: %v", err)
			}
			if err := deliver(t, addr, lmtp, "postmaster@example.com", google); smtpCode(err) != 550 {
				t.Errorf("delivery to another address: %v, want 550", err)
			}
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", bytes.Repeat([]byte("x\r\n"), 60<<10)); smtpCode(err) != 552 {
				t.Errorf("delivery of a large mail: %v, want 552", err)
			}
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", readFile(t, "bad/newsletter.eml")); err != nil {
				t.Errorf("delivery of a mail without report: %v, want it kept in quarantine", err)
			}
			page, err := store.ListReports(context.Background(), reportstore.ListOptions{})
			if err != nil || page.Total != 1 || page.Reports[0].Source != reportstore.SourceSMTP || page.Reports[0].DKIM != reportstore.DKIMPass {
				t.Fatalf("stored %+v, %v", page, err)
			}
			store.Close()
			if err := deliver(t, addr, lmtp, "tlsrpt@example.com", google); smtpCode(err) != 451 {
				t.Errorf("delivery with the store down: %v, want 451", err)
			}
		})
	}
}

// dialFrom connects to addr from the loopback address local, so that
// tests can be several clients.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Not a timing assertion: a bound so that a server that holds the
	// connection fails the test rather than hangs it.
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// greeting reads the server's first reply on conn.
func greeting(t *testing.T, conn net.Conn) string {
	t.Helper()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return line
}

// A stranger cannot hold more than the connection caps: beyond them a
// connection is answered 421 and closed at once, while other clients
// still deliver.
func TestSMTPConnectionCaps(t *testing.T) {
	refused := func(t *testing.T, in *Ingester, local, addr, limit string, want float64) {
		t.Helper()
		conn := dialFrom(t, local, addr)
		if g := greeting(t, conn); !strings.HasPrefix(g, "421 4.7.0 ") {
			t.Fatalf("connection beyond the cap greeted %q, want 421 4.7.0", g)
		}
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Error("connection beyond the cap left open")
		}
		if got := counterValue(t, in.cfg.Metrics.smtpRefused.WithLabelValues(limit)); got != want {
			t.Errorf("mtasts_tlsrpt_smtp_refused_total{limit=%q} = %v, want %v", limit, got, want)
		}
	}
	held := func(t *testing.T, local, addr string) net.Conn {
		t.Helper()
		conn := dialFrom(t, local, addr)
		if g := greeting(t, conn); !strings.HasPrefix(g, "220 ") {
			t.Fatalf("connection under the cap greeted %q, want 220", g)
		}
		return conn
	}

	t.Run("per client", func(t *testing.T) {
		in, store := newIngester(t, Config{MaxSize: 32 << 10, Metrics: NewMetrics(prometheus.NewRegistry())})
		addr := startSMTP(t, in, SMTPOptions{MaxConns: 10, MaxConnsPerClient: 3})
		var conns []net.Conn
		for range 3 {
			conns = append(conns, held(t, "127.0.0.1", addr))
		}
		for i := range 5 {
			refused(t, in, "127.0.0.1", addr, "per_ip", float64(i+1))
		}
		conn := dialFrom(t, "127.0.0.2", addr)
		if err := deliverOn(t, conn, false, "tlsrpt@example.com", readFile(t, "mail/google.eml")); err != nil {
			t.Fatalf("delivery from another client: %v", err)
		}
		if page, err := store.ListReports(context.Background(), reportstore.ListOptions{}); err != nil || page.Total != 1 {
			t.Fatalf("stored %+v, %v", page, err)
		}
		// A connection closed gives its place back.
		for _, c := range conns {
			c.Close()
		}
		for {
			conn := dialFrom(t, "127.0.0.1", addr)
			if strings.HasPrefix(greeting(t, conn), "220 ") {
				break
			}
			time.Sleep(10 * time.Millisecond) // the server has not seen the close yet
		}
	})

	t.Run("in all", func(t *testing.T) {
		in, _ := newIngester(t, Config{Metrics: NewMetrics(prometheus.NewRegistry())})
		addr := startSMTP(t, in, SMTPOptions{MaxConns: 2, MaxConnsPerClient: 2})
		held(t, "127.0.0.1", addr)
		held(t, "127.0.0.2", addr)
		refused(t, in, "127.0.0.3", addr, "total", 1)
	})
}

// A connection ends at SessionTimeout however busy it keeps the server,
// whatever the bound on each read.
func TestSMTPSessionTimeout(t *testing.T) {
	in, _ := newIngester(t, Config{})
	addr := startSMTP(t, in, SMTPOptions{Timeout: time.Hour, SessionTimeout: 100 * time.Millisecond})
	conn := dialFrom(t, "127.0.0.1", addr)
	r := bufio.NewReader(conn)
	for {
		_, err := conn.Write([]byte("NOOP\r\n"))
		if err == nil {
			_, err = r.ReadString('\n')
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection open past its session")
			}
			break // closed by the server
		}
		time.Sleep(10 * time.Millisecond)
	}
}
