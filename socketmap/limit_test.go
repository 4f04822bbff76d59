package socketmap

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openIdle opens n connections to ts that send nothing, one after the
// other, so that the server accepts them in order.
func openIdle(t *testing.T, ts *testServer, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = ts.dial(t)
	}
	return conns
}

// served checks that c is still served: a request gets its reply.
func served(t *testing.T, c net.Conn, i int) {
	t.Helper()
	if _, err := c.Write(requests("echo served")); err != nil {
		t.Fatalf("connection %d: write: %v", i, err)
	}
	if got := readReplies(t, bufio.NewReader(c), 1); got[0] != "OK served" {
		t.Fatalf("connection %d: reply %q", i, got[0])
	}
}

// closedByServer checks that the server closed c without a reply.
func closedByServer(t *testing.T, c net.Conn, i int) {
	t.Helper()
	p, err := ReadNetstring(bufio.NewReader(c), DefaultMaxReply)
	if !isClosedError(err) {
		t.Fatalf("connection %d: read %q, %v; want it closed by the server", i, p, err)
	}
}

// idleCount returns the number of connections on the idle list.
func (ts *testServer) idleCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for c := ts.idle.head; c != nil; c = c.idleNext {
		n++
	}
	return n
}

// TestServerIdleFloodEvictsOldest opens many more idle connections than
// MaxConnections, as a prober would: each new one is served, and the
// server closes those idle the longest to make room, so that at most
// MaxConnections stay open.
func TestServerIdleFloodEvictsOldest(t *testing.T) {
	const limit, flood = 8, 40
	networks(t, func(t *testing.T, network string) {
		ts := startServer(t, network, &Server{MaxConnections: limit, PressureIdleTimeout: time.Hour})
		conns := openIdle(t, ts, flood)
		ts.lookupOK(t)

		evicted := flood + 1 - limit
		for i, c := range conns[:evicted] {
			closedByServer(t, c, i)
		}
		for i, c := range conns[evicted:] {
			served(t, c, evicted+i)
		}
		waitFor(t, "the evicted connections to finish", func() bool { return ts.Stats().Open == limit })
		want := Stats{Open: limit, Accepted: flood + 1, Evicted: uint64(evicted)}
		if got := ts.Stats(); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

// TestServerPressureClosesLongIdle: above PressureConnections, a new
// connection makes the server close the connections idle for longer than
// PressureIdleTimeout, but not one with a lookup in flight.
func TestServerPressureClosesLongIdle(t *testing.T) {
	handler := newHoldingHandler()
	ts := startServer(t, "tcp", &Server{Handler: handler, MaxConnections: 100, PressureConnections: 2, PressureIdleTimeout: time.Nanosecond})
	busy := ts.dial(t)
	busy.Write(requests("m slow"))
	handler.waitHeld(t, 1)
	idle := ts.dial(t)
	waitFor(t, "two connections", func() bool { return ts.Stats().Open == 2 })

	fresh := ts.dial(t)
	closedByServer(t, idle, 1)
	close(handler.release)
	if got := readReplies(t, bufio.NewReader(busy), 1); got[0] != "OK slow" {
		t.Errorf("busy connection: reply %q", got[0])
	}
	served(t, fresh, 2)
	if st := ts.Stats(); st.Evicted != 1 || st.Refused != 0 {
		t.Errorf("Stats() = %+v, want 1 evicted, none refused", st)
	}
}

// TestServerRefusesBeyondLimit fills MaxConnections with connections
// whose lookups are in flight: further connections are closed at once
// (the client reads end of stream, not a hang), counted, and logged once;
// once a lookup is answered, its connection is idle and makes room again.
func TestServerRefusesBeyondLimit(t *testing.T) {
	const limit, refused = 4, 5
	networks(t, func(t *testing.T, network string) {
		handler := newHoldingHandler()
		ts := startServer(t, network, &Server{Handler: handler, MaxConnections: limit, PressureIdleTimeout: time.Hour})
		busy := openIdle(t, ts, limit)
		for _, c := range busy {
			c.Write(requests("m slow"))
		}
		handler.waitHeld(t, limit)

		for i := range refused {
			closedByServer(t, ts.dial(t), limit+i)
		}
		ts.logs.waitLog(t, "refused connections", "refused=1", "max_connections=4")
		if n := strings.Count(ts.logs.String(), "refused connections"); n != 1 {
			t.Errorf("%d log lines about refused connections, want 1 per minute", n)
		}

		close(handler.release)
		for i, c := range busy {
			if got := readReplies(t, bufio.NewReader(c), 1); got[0] != "OK slow" {
				t.Errorf("connection %d: reply %q", i, got[0])
			}
		}
		waitFor(t, "the answered connections to be idle", func() bool { return ts.idleCount() == limit })
		ts.lookupOK(t)
		st := ts.Stats()
		if st.Refused != refused || st.Accepted != limit+1 || st.Evicted != 1 {
			t.Errorf("Stats() = %+v, want %d refused, %d accepted, 1 evicted", st, refused, limit+1)
		}
	})
}

// TestServerUnlimited: a negative MaxConnections sets no limit.
func TestServerUnlimited(t *testing.T) {
	ts := startServer(t, "tcp", &Server{MaxConnections: -1})
	conns := openIdle(t, ts, 2*MinDefaultMaxConnections)
	ts.lookupOK(t)
	for i, c := range conns {
		served(t, c, i)
	}
	if st := ts.Stats(); st.Evicted != 0 || st.Refused != 0 {
		t.Errorf("Stats() = %+v, want nothing evicted or refused", st)
	}
}

func TestDefaultMaxConnections(t *testing.T) {
	n := DefaultMaxConnections()
	if n < MinDefaultMaxConnections || n > MaxDefaultMaxConnections {
		t.Fatalf("DefaultMaxConnections() = %d, want within [%d, %d]", n, MinDefaultMaxConnections, MaxDefaultMaxConnections)
	}
	if soft, ok := openFileLimit(); ok && soft/2 >= MinDefaultMaxConnections && soft/2 <= MaxDefaultMaxConnections && uint64(n) != soft/2 {
		t.Errorf("DefaultMaxConnections() = %d with a soft limit of %d open files, want half", n, soft)
	}
}

// fileLimitChild, set in the environment, makes
// TestServerIdleFloodWithinFileLimit the server process.
const fileLimitChild = "SOCKETMAP_TEST_FILE_LIMIT_SERVER"

// childFileLimit is the limit on open files of that server process.
const childFileLimit = 256

// TestServerIdleFloodWithinFileLimit runs a Server with its default
// settings in a process of its own allowed 256 open files, and opens
// more idle connections to it than that: the server must not run out of
// descriptors, and a new client must still be served.
func TestServerIdleFloodWithinFileLimit(t *testing.T) {
	if os.Getenv(fileLimitChild) != "" {
		serveWithFileLimit(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerIdleFloodWithinFileLimit$", "-test.v")
	cmd.Env = append(os.Environ(), fileLimitChild+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server process exits when its input ends
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server process: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the server process did not stop when its input ended; killed")
		}
	})
	out := bufio.NewScanner(stdout)
	var addr string
	for out.Scan() {
		if a, ok := strings.CutPrefix(out.Text(), "listening on "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("the server process did not say where it listens")
	}
	go func() {
		for out.Scan() {
		}
	}()

	ts := &testServer{network: "tcp", addr: addr}
	conns := openIdle(t, ts, 2*childFileLimit)
	ts.lookupOK(t)
	closedByServer(t, conns[0], 0)
}

// serveWithFileLimit is the server process of
// TestServerIdleFloodWithinFileLimit: it lowers its limit on open files,
// serves with the defaults on a loopback port, which it prints, and stops
// when its input ends.
func serveWithFileLimit(t *testing.T) {
	rl := syscall.Rlimit{Cur: childFileLimit, Max: childFileLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: testMux()}
	l := listen(t, "tcp")
	fmt.Printf("listening on %s\n", l.Addr())
	go func() {
		var b [1]byte
		os.Stdin.Read(b[:])
		srv.Close()
	}()
	srv.Serve(l)
}
