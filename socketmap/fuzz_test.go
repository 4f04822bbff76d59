package socketmap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func FuzzReadNetstring(f *testing.F) {
	for _, tc := range netstringCases {
		f.Add([]byte(tc.in), max(tc.max, 0))
		f.Add([]byte(tc.in), 1<<16)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		limit = min(max(limit, 0), 1<<16)
		src := bytes.NewReader(data)
		r := bufio.NewReader(src)
		p, err := ReadNetstring(r, limit)
		consumed := len(data) - r.Buffered() - src.Len()
		if err == nil {
			if len(p) > limit {
				t.Fatalf("payload of %d bytes over the limit of %d", len(p), limit)
			}
			// The syntax is canonical: encoding the payload again gives
			// back exactly the bytes read.
			if enc := AppendNetstring(nil, p); !bytes.Equal(enc, data[:consumed]) {
				t.Fatalf("read %q as %q, which encodes as %q", data[:consumed], p, enc)
			}
			return
		}
		if err == io.EOF {
			if len(data) != 0 {
				t.Fatalf("io.EOF with %d bytes of input", len(data))
			}
			return
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *ProtocolError", err, err)
		}
		if pe.Offset < 0 || pe.Offset > len(data) || pe.Offset > consumed {
			t.Fatalf("offset %d outside the %d bytes read", pe.Offset, consumed)
		}
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			if consumed != len(data) {
				t.Fatalf("unexpected EOF after %d of %d bytes", consumed, len(data))
			}
		case errors.Is(err, ErrTooLong):
			if pe.Length != 0 && pe.Length <= limit {
				t.Fatalf("ErrTooLong for length %d within the limit of %d", pe.Length, limit)
			}
		case errors.Is(err, ErrSyntax):
		default:
			t.Fatalf("error %v wraps no known sentinel", err)
		}
	})
}

// pipeConn is the server's end of two net.Pipes, one each way, so that the
// client can close its sending side (the server reads EOF) and still read
// the replies.
type pipeConn struct {
	in  net.Conn // the server reads requests here
	out net.Conn // the server writes replies here
}

func (p pipeConn) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p pipeConn) Write(b []byte) (int, error) { return p.out.Write(b) }
func (p pipeConn) Close() error {
	p.in.Close()
	return p.out.Close()
}
func (p pipeConn) LocalAddr() net.Addr                { return p.in.LocalAddr() }
func (p pipeConn) RemoteAddr() net.Addr               { return p.in.RemoteAddr() }
func (p pipeConn) SetReadDeadline(t time.Time) error  { return p.in.SetReadDeadline(t) }
func (p pipeConn) SetWriteDeadline(t time.Time) error { return p.out.SetWriteDeadline(t) }
func (p pipeConn) SetDeadline(t time.Time) error {
	p.in.SetDeadline(t)
	return p.out.SetDeadline(t)
}

const (
	fuzzMaxRequest = 64
	fuzzMaxReply   = 80
)

// expectedReplies is the oracle for FuzzServerConn: how many replies the
// server owes for input, and the expected payload of those to "echo"
// requests (keyed by reply index).
func expectedReplies(input []byte) (n int, echo map[int]string) {
	echo = map[int]string{}
	r := bufio.NewReader(bytes.NewReader(input))
	for {
		p, err := ReadNetstring(r, fuzzMaxRequest)
		var pe *ProtocolError
		switch {
		case err == nil:
			if req, err := ParseRequest(p); err == nil && req.Map == "echo" {
				echo[n] = OK(req.Key).String()
			}
			n++
		case errors.Is(err, ErrTooLong) && errors.As(err, &pe):
			n++ // PERM
			if pe.Length == 0 || pe.Length > maxDiscard || discardPayload(r, pe) != nil {
				return n, echo
			}
		case errors.Is(err, ErrSyntax):
			return n + 1, echo // PERM, then close
		default: // end of input, complete or not
			return n, echo
		}
	}
}

func FuzzServerConn(f *testing.F) {
	for _, tc := range netstringCases {
		f.Add([]byte(tc.in))
	}
	for _, seed := range []string{
		"6:echo a,6:echo b,10:echo c d e,",
		"7:sts abc;",
		"6:echo a,3:sts,4: abc,9:panic now,5:nf x,0:,",
		"70:echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,6:echo z,",
		"99999:echo",
		"9:echo long,9:echo long,9:echo long,9:echo long,9:echo long,9:echo long,",
	} {
		f.Add([]byte(seed))
	}
	var m Mux
	m.HandleFunc("echo", func(_ context.Context, r Request) Reply { return OK(r.Key) })
	m.HandleFunc("nf", func(context.Context, Request) Reply { return NotFound() })
	m.HandleFunc("panic", func(context.Context, Request) Reply { panic("fuzz") })
	m.HandleFunc("long", func(context.Context, Request) Reply { return Perm(string(make([]byte, 200))) })

	f.Fuzz(func(t *testing.T, input []byte) {
		srv := &Server{
			Handler:     &m,
			MaxRequest:  fuzzMaxRequest,
			MaxReply:    fuzzMaxReply,
			Concurrency: 4,
			Logger:      slog.New(slog.DiscardHandler),
		}
		clientOut, serverIn := net.Pipe()
		serverOut, clientIn := net.Pipe()
		c, err := srv.newConn(pipeConn{in: serverIn, out: serverOut})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() {
			c.serve()
			close(served)
		}()
		go func() {
			clientOut.Write(input) // fails once the server stops reading
			clientOut.Close()
		}()

		clientIn.SetReadDeadline(time.Now().Add(10 * time.Second))
		output, err := io.ReadAll(clientIn)
		if err != nil {
			t.Fatalf("reading replies: %v (server hung?)", err)
		}
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("connection not finished 10 s after its output ended")
		}

		r := bufio.NewReader(bytes.NewReader(output))
		var replies []Reply
		for {
			p, err := ReadNetstring(r, fuzzMaxReply)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reply %d is not a netstring: %v; output %q", len(replies), err, output)
			}
			reply, err := ParseReply(p)
			if err != nil {
				t.Fatalf("reply %d %q: %v", len(replies), p, err)
			}
			replies = append(replies, reply)
		}
		n, echo := expectedReplies(input)
		if len(replies) != n {
			t.Fatalf("%d replies, want %d; output %q", len(replies), n, output)
		}
		for i, want := range echo {
			if got := replies[i].String(); got != want {
				t.Fatalf("reply %d = %q, want %q", i, got, want)
			}
		}
	})
}
