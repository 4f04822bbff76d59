package dnsx

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// Dialer connects to the address the client's server gives for a name
// the system resolver has never heard of, and tries the next address when
// one refuses.
func TestDialer(t *testing.T) {
	d, c := newWorld(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("hello"))
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	// 127.0.0.2 answers nothing on that port: the dialer goes on to .1.
	d.Add("policy.dialer.test. A 127.0.0.2", "policy.dialer.test. A 127.0.0.1")
	var tried []string
	base := func(ctx context.Context, network, addr string) (net.Conn, error) {
		tried = append(tried, addr)
		if strings.HasPrefix(addr, "127.0.0.2:") {
			return nil, errors.New("refused")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	conn, err := c.Dialer(base)(t.Context(), "tcp", net.JoinHostPort("policy.dialer.test", port))
	if err != nil {
		t.Fatalf("dial: %v (tried %v)", err, tried)
	}
	buf := make([]byte, 5)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hello" {
		t.Errorf("read %q, %v", buf, err)
	}
	conn.Close()
	if len(tried) != 2 {
		t.Errorf("tried %v, want 127.0.0.2 then 127.0.0.1", tried)
	}

	if _, err := c.Dialer(nil)(t.Context(), "tcp", "nxdomain.dialer.test:443"); err == nil || !strings.Contains(err.Error(), "nxdomain.dialer.test") {
		t.Errorf("dial of a name without address: %v", err)
	}
	if conn, err := c.Dialer(nil)(t.Context(), "tcp", l.Addr().String()); err != nil {
		t.Errorf("dial of an IP literal: %v", err)
	} else {
		conn.Close()
	}
}
