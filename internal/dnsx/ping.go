package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// ErrUnreachable means that no configured DNS server answered at all: the
// port is closed, the network unreachable or every query timed out. Unlike
// a SERVFAIL for one name, it says nothing about any domain; a command
// that cannot reach its resolver cannot run.
var ErrUnreachable = errors.New("dnsx: DNS resolver does not answer")

// Ping asks the servers for the root's NS records and reports whether any
// of them answers. Any DNS reply, an error rcode included, counts as an
// answer; only timeouts and network errors make Ping fail, with an error
// that wraps ErrUnreachable and names the servers.
func (c *Client) Ping(ctx context.Context) error {
	_, _, err := c.Query(ctx, ".", dns.TypeNS)
	var op *net.OpError
	if errors.Is(err, ErrTimeout) || errors.As(err, &op) {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, strings.Join(c.Servers(), ", "), err)
	}
	return nil
}
