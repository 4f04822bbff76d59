package socketmap

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer answers every request read from the server end of a pipe with
// the next of replies, written raw, and closes after the last.
func fakeServer(t *testing.T, replies ...string) *Client {
	t.Helper()
	cs, ss := net.Pipe()
	go func() {
		defer ss.Close()
		r := bufio.NewReader(ss)
		for _, reply := range replies {
			if _, err := ReadNetstring(r, DefaultMaxRequest); err != nil {
				return
			}
			if _, err := io.WriteString(ss, reply); err != nil {
				return
			}
		}
	}()
	c := NewClient(cs)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientReplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		max     int
		want    error  // for errors.Is
		inError string // substring of the error
	}{
		{name: "unknown status", replies: []string{"5:MAYBE,"}, want: ErrSyntax, inError: `unknown status "MAYBE"`},
		{name: "bad framing", replies: []string{"2:OK;"}, want: ErrSyntax, inError: "expected ','"},
		{name: "closed before reply", replies: []string{""}, inError: "server closed the connection after 0 of 1 replies"},
		{name: "closed inside reply", replies: []string{"10:OK"}, want: io.ErrUnexpectedEOF},
		{name: "reply over limit", replies: []string{"12:OK 123456789,"}, max: 10, want: ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeServer(t, tc.replies...)
			c.MaxReply = tc.max
			_, err := c.Lookup(context.Background(), "sts", "example.com")
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.inError) {
				t.Fatalf("Lookup error = %v, want %v containing %q", err, tc.want, tc.inError)
			}
			// The connection is out of step: later calls fail the same way.
			if _, err2 := c.Lookup(context.Background(), "sts", "example.com"); err2 == nil || !strings.Contains(err2.Error(), "connection unusable") {
				t.Errorf("second Lookup error = %v, want the first one, sticky", err2)
			}
		})
	}
}

func TestClientInvalidMapName(t *testing.T) {
	c := fakeServer(t, "3:OK ,")
	for _, m := range []string{"", "two words"} {
		if _, err := c.Lookup(context.Background(), m, "k"); err == nil {
			t.Errorf("Lookup with map %q succeeded", m)
		}
	}
	// Refused before sending: the connection is still good.
	if r, err := c.Lookup(context.Background(), "m", "k"); err != nil || r != OK("") {
		t.Errorf("Lookup = %+v, %v", r, err)
	}
}

func TestClientContext(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 10)
	defer close(release)
	handler := HandlerFunc(func(_ context.Context, r Request) Reply {
		if r.Key == "slow" {
			arrived <- struct{}{}
			<-release
		}
		return OK(r.Key)
	})
	ts := startServer(t, "tcp", &Server{Handler: handler})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := ts.client(t).Lookup(ctx, "m", "slow")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lookup = %v, want deadline exceeded", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := ts.client(t)
		for len(arrived) > 0 {
			<-arrived
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		if _, err := c.Lookup(ctx, "m", "slow"); !errors.Is(err, context.Canceled) {
			t.Errorf("Lookup = %v, want canceled", err)
		}
		if _, err := c.Lookup(context.Background(), "m", "fast"); err == nil {
			t.Errorf("Lookup after a canceled one succeeded on an out-of-step connection")
		}
	})
	t.Run("no deadline", func(t *testing.T) {
		c := ts.client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.Lookup(ctx, "m", "fast"); err != nil {
			t.Fatal(err)
		}
		// The deadline of the last call must not linger.
		<-ctx.Done()
		if r, err := c.Lookup(context.Background(), "m", "again"); err != nil || r != OK("again") {
			t.Errorf("Lookup = %+v, %v", r, err)
		}
	})
}
