package serve

import (
	"bufio"
	"context"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// smtp_max_conns_per_ip bounds the report mail listener of serve: a
// client beyond it is answered 421 and counted, as a stranger would see.
func TestReportMailConnectionCap(t *testing.T) {
	ca := testworld.NewCA(t, "serve test CA")
	cfg := loadChanged(t, ca, "smtp_max_conns_per_ip = 1\n", nil)
	s, err := New(context.Background(), cfg, Options{Log: &testenv.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	held, err := smtp.Dial(s.ReportMailAddr().String()) // reads the 220 greeting
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	defer held.Close()
	conn, err := net.Dial("tcp", s.ReportMailAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Not a timing assertion: a bound so that a listener that holds the
	// connection fails the test rather than hangs it.
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(conn).ReadString('\n'); !strings.HasPrefix(line, "421 4.7.0 ") {
		t.Errorf("second connection of one client greeted %q, %v; want 421 4.7.0", line, err)
	}
	metrics := testenv.Scrape(t, "http://"+s.MetricsAddr().String()+"/metrics")
	if !strings.Contains(metrics, `mtasts_tlsrpt_smtp_refused_total{limit="per_ip"} 1`) {
		t.Errorf("the refusal is not counted:\n%s", metrics)
	}
}
