package probe

import (
	"context"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedMX serves one connection on a loopback port with serve, which
// plays the server's side of the dialogue, and returns the port. serve
// reports mismatches with t.Errorf; the test waits for it to return.
func scriptedMX(t *testing.T, serve func(c *textproto.Conn, raw net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		raw, err := l.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		serve(textproto.NewConn(raw), raw)
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// expect reads one command line and reports whether it is want.
func expect(t *testing.T, c *textproto.Conn, want string) {
	t.Helper()
	got, err := c.ReadLine()
	if err != nil || got != want {
		t.Errorf("server read %q, %v; want %q", got, err, want)
	}
}

// probeLocal probes the scripted server on port at 127.0.0.1.
func probeLocal(t *testing.T, port string, opts Options) *Result {
	t.Helper()
	opts.Port = port
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	return Probe(context.Background(), "mx.example.com", "127.0.0.1", opts)
}

// stageOf returns the stage of r.Err, or "" if r.Err is not an *Error.
func stageOf(r *Result) Stage {
	var perr *Error
	if errors.As(r.Err, &perr) {
		return perr.Stage
	}
	return ""
}

func TestDialogue(t *testing.T) {
	port := scriptedMX(t, func(c *textproto.Conn, _ net.Conn) {
		c.PrintfLine("220-mx.example.com ESMTP")
		c.PrintfLine("220 no UCE")
		expect(t, c, "EHLO [127.0.0.1]") // RFC 5321 §4.1.3 address literal by default
		c.PrintfLine("250-mx.example.com greets [127.0.0.1]")
		c.PrintfLine("250-pipelining")
		c.PrintfLine("250-SIZE 10240000")
		c.PrintfLine("250 8BITMIME")
		expect(t, c, "QUIT")
		c.PrintfLine("221 bye")
	})
	r := probeLocal(t, port, Options{})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := "mx.example.com ESMTP\nno UCE"; r.Banner != want {
		t.Errorf("Banner = %q, want %q", r.Banner, want)
	}
	if r.EHLOName != "mx.example.com" {
		t.Errorf("EHLOName = %q", r.EHLOName)
	}
	if got, want := strings.Join(r.Extensions, ","), "PIPELINING,SIZE,8BITMIME"; got != want {
		t.Errorf("Extensions = %s, want %s", got, want)
	}
	if r.STARTTLS || r.ResultType() != "starttls-not-supported" {
		t.Errorf("STARTTLS = %v, ResultType = %q", r.STARTTLS, r.ResultType())
	}
	if r.Addr != "127.0.0.1:"+port {
		t.Errorf("Addr = %q", r.Addr)
	}
}

func TestDialogueFailures(t *testing.T) {
	greet := func(c *textproto.Conn) {
		c.PrintfLine("220 mx.example.com ESMTP")
		expect(t, c, "EHLO probe.example.net")
	}
	startTLS := func(c *textproto.Conn) {
		greet(c)
		c.PrintfLine("250-mx.example.com")
		c.PrintfLine("250 STARTTLS")
		expect(t, c, "STARTTLS")
	}
	tests := []struct {
		name       string
		serve      func(c *textproto.Conn, raw net.Conn)
		stage      Stage
		code       int   // SMTP reply code in the error, if any
		is         error // sentinel in the error, if any
		resultType string
	}{{
		name: "rejecting banner",
		serve: func(c *textproto.Conn, _ net.Conn) {
			c.PrintfLine("554 go away")
			expect(t, c, "QUIT") // RFC 5321 §3.1
		},
		stage: StageBanner, code: 554,
	}, {
		name: "EHLO not understood",
		serve: func(c *textproto.Conn, _ net.Conn) {
			greet(c)
			c.PrintfLine("502 command not implemented")
			expect(t, c, "QUIT")
		},
		stage: StageEHLO, code: 502, resultType: "starttls-not-supported",
	}, {
		name: "EHLO refused",
		serve: func(c *textproto.Conn, _ net.Conn) {
			greet(c)
			c.PrintfLine("550 you are on a block list")
			expect(t, c, "QUIT")
		},
		stage: StageEHLO, code: 550,
	}, {
		name: "STARTTLS refused",
		serve: func(c *textproto.Conn, _ net.Conn) {
			startTLS(c)
			c.PrintfLine("454 TLS not available due to temporary reason")
			expect(t, c, "QUIT")
			c.PrintfLine("221 bye")
		},
		stage: StageSTARTTLS, code: 454, resultType: "starttls-not-supported",
	}, {
		// RFC 3207 §4: nothing may follow the 220 before the TLS
		// handshake; bytes sent early must not reach TLS.
		name: "plaintext after STARTTLS reply",
		serve: func(c *textproto.Conn, raw net.Conn) {
			startTLS(c)
			raw.Write([]byte("220 go ahead\r\n250 injected\r\n"))
		},
		stage: StageSTARTTLS, is: ErrPlaintextAfterSTARTTLS, resultType: "starttls-not-supported",
	}, {
		name: "handshake with a server that is not TLS",
		serve: func(c *textproto.Conn, raw net.Conn) {
			startTLS(c)
			c.PrintfLine("220 go ahead")
			buf := make([]byte, 1)
			raw.Read(buf) // the ClientHello has begun
			raw.Write([]byte("500 what is this\r\n"))
		},
		stage: StageHandshake, resultType: "validation-failure",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := scriptedMX(t, tt.serve)
			r := probeLocal(t, port, Options{HeloName: "probe.example.net"})
			if got := stageOf(r); got != tt.stage {
				t.Fatalf("stage = %q, want %q (Err: %v)", got, tt.stage, r.Err)
			}
			var reply *textproto.Error
			if tt.code != 0 && (!errors.As(r.Err, &reply) || reply.Code != tt.code) {
				t.Errorf("Err = %v, want SMTP reply %d", r.Err, tt.code)
			}
			if tt.is != nil && !errors.Is(r.Err, tt.is) {
				t.Errorf("Err = %v, want %v", r.Err, tt.is)
			}
			if got := r.ResultType(); got != tt.resultType {
				t.Errorf("ResultType() = %q, want %q", got, tt.resultType)
			}
		})
	}
}

func TestInvalidHeloName(t *testing.T) {
	port := scriptedMX(t, func(c *textproto.Conn, _ net.Conn) {
		c.PrintfLine("220 mx.example.com ESMTP")
		c.ReadLine() // whatever comes, never an injected command
	})
	r := probeLocal(t, port, Options{HeloName: "x\r\nRSET"})
	if stageOf(r) != StageEHLO {
		t.Fatalf("Err = %v, want an EHLO failure", r.Err)
	}
}

func TestAddressLiteral(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.7:25", "[192.0.2.7]"},
		{"[2001:db8::7]:25", "[IPv6:2001:db8::7]"},
		{"[::ffff:192.0.2.7]:25", "[192.0.2.7]"},
		{"[fe80::1%eth0]:25", "[IPv6:fe80::1]"},
	}
	for _, tt := range tests {
		a, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := addressLiteral(a); got != tt.want {
			t.Errorf("addressLiteral(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := addressLiteral(&net.UnixAddr{Name: "/tmp/s", Net: "unix"}); got != "localhost" {
		t.Errorf("addressLiteral(unix) = %q", got)
	}
}
