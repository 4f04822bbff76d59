package dnsx

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestPing checks that only a resolver that gives no reply at all is
// unreachable: an error rcode is an answer.
func TestPing(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	refused := serveUDP(t, func(w dns.ResponseWriter, req *dns.Msg) { reply(t, w, req, dns.RcodeRefused) })
	_, world := newWorld(t)
	dead := deadAddr(t)
	tests := []struct {
		name        string
		client      *Client
		unreachable bool
	}{
		{"world", world, false},
		{"refused", newTestClient(t, refused), false},
		{"closed port", newTestClient(t, dead), true},
		{"silent", newTestClient(t, silent.LocalAddr().String()), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.client.Ping(context.Background())
			if got := errors.Is(err, ErrUnreachable); got != tt.unreachable {
				t.Fatalf("Ping: %v, want unreachable %v", err, tt.unreachable)
			}
			if tt.unreachable && !strings.Contains(err.Error(), tt.client.Servers()[0]) {
				t.Errorf("Ping: %v does not name the server %s", err, tt.client.Servers()[0])
			}
		})
	}
}
