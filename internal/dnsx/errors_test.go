package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestErrorKinds checks that each kind of failure gives its sentinel and the
// right net.DNSError flags: a temporary failure must never look like "no
// record" (RFC-NOTES, known traps).
func TestErrorKinds(t *testing.T) {
	d, c := newWorld(t)
	d.Add("nodata.example. A 192.0.2.1")
	d.TXT("servfail.example", "x")
	d.SetRcode("servfail.example", dns.TypeTXT, dns.RcodeServerFailure)
	d.SetRcode("refused.example", dns.TypeANY, dns.RcodeRefused)
	d.SetRcode("notimp.example", dns.TypeTXT, dns.RcodeNotImplemented)
	d.SetRcode("formerr.example", dns.TypeTXT, dns.RcodeFormatError)
	d.Drop("drop.example", dns.TypeTXT)

	tests := []struct {
		name      string
		want      error
		notFound  bool
		timeout   bool
		text      string // in Err
		wantQuery int    // queries the server saw
	}{
		{"nx.example", ErrNXDomain, true, false, "NXDOMAIN", 1},
		{"nodata.example", ErrNoData, true, false, "NODATA", 1},
		{"servfail.example", ErrServerFailure, false, false, "SERVFAIL", testAttempts},
		{"refused.example", ErrServerFailure, false, false, "REFUSED", testAttempts},
		{"notimp.example", ErrServerFailure, false, false, "NOTIMP", testAttempts},
		{"formerr.example", ErrServerFailure, false, false, "FORMERR", testAttempts},
		{"drop.example", ErrTimeout, false, true, "timeout", testAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txts, _, err := c.TXT(t.Context(), tt.name)
			if err == nil {
				t.Fatalf("TXT = %q, want error", txts)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			var de *net.DNSError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *net.DNSError", err)
			}
			if de.Name != tt.name || de.Server != d.Addr() {
				t.Errorf("Name, Server = %q, %q; want %q, %q", de.Name, de.Server, tt.name, d.Addr())
			}
			if !strings.Contains(de.Err, tt.text) {
				t.Errorf("Err = %q, want it to mention %q", de.Err, tt.text)
			}
			if de.IsNotFound != tt.notFound || IsNotFound(err) != tt.notFound {
				t.Errorf("IsNotFound = %v, %v; want %v", de.IsNotFound, IsNotFound(err), tt.notFound)
			}
			if de.IsTemporary != !tt.notFound || IsTemporary(err) != !tt.notFound {
				t.Errorf("IsTemporary = %v, %v; want %v", de.IsTemporary, IsTemporary(err), !tt.notFound)
			}
			if de.IsTimeout != tt.timeout || de.Timeout() != tt.timeout {
				t.Errorf("IsTimeout = %v, want %v", de.IsTimeout, tt.timeout)
			}
			if n := d.Queries(tt.name, dns.TypeTXT); n != tt.wantQuery {
				t.Errorf("server saw %d queries, want %d", n, tt.wantQuery)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	tests := []struct {
		err                 error
		notFound, temporary bool
	}{
		{nil, false, false},
		{errors.New("other"), false, false},
		{ErrNXDomain, true, false},
		{fmt.Errorf("wrapped: %w", ErrNoData), true, false},
		{ErrInvalidName, true, false},
		{ErrServerFailure, false, true},
		{ErrCNAMELoop, false, true},
		{ErrTimeout, false, true},
		// Errors of package net's resolver are understood too.
		{&net.DNSError{Err: "no such host", IsNotFound: true}, true, false},
		{&net.DNSError{Err: "server misbehaving", IsTemporary: true}, false, true},
		{fmt.Errorf("wrapped: %w", &net.DNSError{Err: "i/o timeout", IsTimeout: true}), false, true},
	}
	for _, tt := range tests {
		if got := IsNotFound(tt.err); got != tt.notFound {
			t.Errorf("IsNotFound(%v) = %v, want %v", tt.err, got, tt.notFound)
		}
		if got := IsTemporary(tt.err); got != tt.temporary {
			t.Errorf("IsTemporary(%v) = %v, want %v", tt.err, got, tt.temporary)
		}
	}
}

// TestRcodeFromEveryServer checks that an answer from a server wins over a
// silent server in the error, and that every server is asked.
func TestRcodeFromEveryServer(t *testing.T) {
	refusing := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		reply(t, w, req, dns.RcodeRefused)
	})
	c := newTestClient(t, refusing, deadAddr(t))
	_, _, err := c.TXT(t.Context(), "example.com")
	if !errors.Is(err, ErrServerFailure) || !strings.Contains(err.Error(), "REFUSED") || !strings.Contains(err.Error(), refusing) {
		t.Errorf("err = %v, want REFUSED from %s", err, refusing)
	}
}

// TestHeaderOnlyRefused checks that an error reply without a question
// section (as some public resolvers send) is taken, not ignored until the
// timeout.
func TestHeaderOnlyRefused(t *testing.T) {
	addr := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		m.Question = nil
		_ = w.WriteMsg(m)
	})
	c := newTestClient(t, addr)
	start := time.Now()
	_, _, err := c.TXT(t.Context(), "example.com")
	if !errors.Is(err, ErrServerFailure) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want server failure", err)
	}
	if elapsed := time.Since(start); elapsed >= testTimeout {
		t.Errorf("took %v: the reply was ignored", elapsed)
	}
}

// TestLameReferral checks that an empty NOERROR reply from a server that
// is neither authoritative nor recursive is not taken for NODATA.
func TestLameReferral(t *testing.T) {
	lame := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		ns, _ := dns.NewRR("example.com. NS ns.example.com.")
		m.Ns = []dns.RR{ns}
		_ = w.WriteMsg(m)
	})
	c := newTestClient(t, lame)
	_, _, err := c.TXT(t.Context(), "example.com")
	if !errors.Is(err, ErrServerFailure) || IsNotFound(err) || !strings.Contains(err.Error(), "lame referral") {
		t.Errorf("err = %v, want a lame referral server failure", err)
	}
	good, _ := newWorld(t)
	good.TXT("example.com", "ok")
	c = newTestClient(t, lame, good.Addr())
	if got, err := c.LookupTXT(t.Context(), "example.com"); err != nil || len(got) != 1 {
		t.Errorf("with a good second server: %q, %v", got, err)
	}
}

// TestIgnoresForeignReplies checks that UDP replies to another question are
// ignored (they may be forged), so the query times out rather than taking
// them.
func TestIgnoresForeignReplies(t *testing.T) {
	addr := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Question[0].Name = "other.example."
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
	})
	c, err := New(Config{Servers: []string{addr}, Timeout: 50 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.TXT(t.Context(), "example.com")
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want timeout", err)
	}
}

func TestContext(t *testing.T) {
	d := testworldWithDelay(t, "slow.example", time.Second)
	c, err := New(Config{Servers: []string{d}, Timeout: 5 * time.Second, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, _, err := c.TXT(ctx, "slow.example")
		if !errors.Is(err, context.Canceled) || !IsTemporary(err) || IsNotFound(err) {
			t.Errorf("err = %v, want a temporary error wrapping context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
			t.Errorf("cancellation took %v", elapsed)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, _, err := c.TXT(ctx, "slow.example")
		var de *net.DNSError
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &de) || !de.IsTimeout {
			t.Errorf("err = %v, want a timeout", err)
		}
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, _, err := c.TXT(ctx, "slow.example"); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// testworldWithDelay starts a testworld server whose TXT answer for name
// takes delay, and returns its address.
func testworldWithDelay(t *testing.T, name string, delay time.Duration) string {
	t.Helper()
	d, _ := newWorld(t)
	d.TXT(name, "v=STSv1; id=1;")
	d.SetDelay(name, dns.TypeTXT, delay)
	return d.Addr()
}
