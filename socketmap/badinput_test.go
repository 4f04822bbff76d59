package socketmap

import (
	"bufio"
	"context"
	"io"
	"runtime"
	"testing"
	"time"
)

// TestServerBadInput sends bad input followed by a good request in one
// write, and checks the replies, whether the connection is closed, the log,
// and that the server still serves a new client.
func TestServerBadInput(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		replies []string // the last is the good request's when open
		closed  bool
		log     []string
	}{
		{
			name:    "oversize request is skipped",
			in:      "20:sts aaaaaaaaaaaaaaaa,",
			replies: []string{"PERM request too long (20 bytes, limit 16)", "OK good"},
			log:     []string{"level=WARN", "request too long", "length=20", "limit=16"},
		},
		{
			name:    "oversize over 1 MiB closes",
			in:      "999999999:sts",
			replies: []string{"PERM request too long (999999999 bytes, limit 16)"},
			closed:  true,
			log:     []string{"request too long; closing connection"},
		},
		{
			name:    "length of ten digits",
			in:      "1234567890:",
			replies: []string{"PERM request too long (limit 16 bytes)"},
			closed:  true,
			log:     []string{"request too long; closing connection", "more than 9 digits", "offset=9"},
		},
		{
			name:    "corrupt length",
			in:      "x5:hello,",
			replies: []string{"PERM malformed request: netstring byte 0: expected a length digit, got 'x'"},
			closed:  true,
			log:     []string{"level=WARN", "malformed netstring; closing connection", "offset=0"},
		},
		{
			name:    "leading zero",
			in:      "05:a bcd,",
			replies: []string{"PERM malformed request: netstring byte 1: leading zero in length"},
			closed:  true,
			log:     []string{"malformed netstring"},
		},
		{
			name:    "missing comma",
			in:      "7:sts abc;",
			replies: []string{"PERM malformed request: netstring byte 9: expected ',' after 7-byte payload, got ';'"},
			closed:  true,
			log:     []string{"malformed netstring", "offset=9"},
		},
		{
			name:    "missing comma after a good request",
			in:      "6:echo a,7:sts abc;",
			replies: []string{"OK a", "PERM malformed request: netstring byte 9: expected ',' after 7-byte payload, got ';'"},
			closed:  true,
			log:     []string{"malformed netstring", "offset=18"}, // 9 bytes into the second
		},
		{
			name:    "no space",
			in:      "3:sts,",
			replies: []string{"PERM malformed request: request byte 3: missing space between map name and key", "OK good"},
			log:     []string{"malformed request"},
		},
		{
			name:    "empty map name",
			in:      "4: abc,",
			replies: []string{"PERM malformed request: request byte 0: empty map name", "OK good"},
			log:     []string{"malformed request"},
		},
		{
			name:    "unknown map",
			in:      "5:xx ab,",
			replies: []string{`PERM unknown map "xx"`, "OK good"},
		},
		{
			name:    "empty netstring",
			in:      "0:,",
			replies: []string{"PERM malformed request: request byte 0: missing space between map name and key", "OK good"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, "tcp", &Server{MaxRequest: 16})
			c := ts.dial(t)
			in := tc.in + string(requests("echo good"))
			if _, err := c.Write([]byte(in)); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			got := readReplies(t, r, len(tc.replies))
			for i := range got {
				if got[i] != tc.replies[i] {
					t.Errorf("reply %d = %q, want %q", i, got[i], tc.replies[i])
				}
			}
			if tc.closed {
				expectClosed(t, r)
			}
			if len(tc.log) > 0 {
				ts.logs.waitLog(t, tc.log...)
			}
			ts.lookupOK(t)
		})
	}
}

// TestServerDisconnectMidRequest has clients vanish at several points and
// checks that every goroutine of their connections ends and the server goes
// on serving.
func TestServerDisconnectMidRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		log  string
	}{
		{name: "in length", in: "12", log: "client closed connection inside a request"},
		{name: "after colon", in: "20:", log: "client closed connection inside a request"},
		{name: "in payload", in: "20:sts exa", log: "client closed connection inside a request"},
		{name: "before comma", in: "7:sts abc", log: "client closed connection inside a request"},
		{name: "between requests", in: "7:sts abc,", log: "client closed connection"},
		{name: "inside oversize request", in: "2000:sts aaaa", log: "then broken"},
	}
	networks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, &Server{MaxRequest: 100})
		base := runtime.NumGoroutine()
		for _, tc := range tests {
			c := ts.dial(t)
			if _, err := c.Write([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			c.Close()
			ts.logs.waitLog(t, tc.log)
			waitGoroutines(t, base)
		}
		ts.lookupOK(t)
	})
}

// TestServerDisconnectWithLookupInFlight has a client leave while its
// lookup runs; the reply cannot be written and everything ends.
func TestServerDisconnectWithLookupInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	handler := HandlerFunc(func(_ context.Context, r Request) Reply {
		close(started)
		<-release
		return OK(r.Key)
	})
	ts := startServer(t, "tcp", &Server{Handler: handler})
	base := runtime.NumGoroutine()
	c := ts.dial(t)
	c.Write(requests("m slow"))
	<-started
	c.Close()
	ts.logs.waitLog(t, "client closed connection")
	close(release)
	waitGoroutines(t, base)
}

func TestServerIdleTimeout(t *testing.T) {
	networks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, &Server{IdleTimeout: 50 * time.Millisecond})
		// The idle timer runs from the connection's start, so on a slow
		// machine it may close before the request arrives; then try again.
		for attempt := 1; ; attempt++ {
			c := ts.dial(t)
			c.Write(requests("echo x"))
			r := bufio.NewReader(c)
			p, err := ReadNetstring(r, DefaultMaxReply)
			if err != nil && attempt < 5 {
				continue
			}
			if err != nil || string(p) != "OK x" {
				t.Fatalf("reply %q, %v", p, err)
			}
			expectClosed(t, r)
			break
		}
		ts.logs.waitLog(t, "closing idle connection", "idle_timeout=50ms")
	})
}

func TestServerReadTimeout(t *testing.T) {
	ts := startServer(t, "tcp", &Server{ReadTimeout: 50 * time.Millisecond})
	c := ts.dial(t)
	c.Write([]byte("10:echo")) // and never the rest
	n, err := io.Copy(io.Discard, c)
	if n != 0 || err != nil {
		t.Errorf("read %d bytes, %v; want a clean close", n, err)
	}
	ts.logs.waitLog(t, "level=WARN", "request not complete in time", "read_timeout=50ms")
	ts.lookupOK(t)
}
