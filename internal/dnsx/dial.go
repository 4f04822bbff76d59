package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// DialFunc is the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns a dial function that looks host names up with c rather
// than the system resolver, so that a program told to use one DNS server
// (--resolver) sends it every query, a policy host's address included. It
// connects to the addresses in the order LookupIPAddr gives (IPv4 first)
// until one answers, with base (nil: a plain net.Dialer). IP literals are
// dialled as they are.
func (c *Client) Dialer(base DialFunc) DialFunc {
	if base == nil {
		base = (&net.Dialer{}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		addrs, err := c.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		var errs []error
		for _, a := range addrs {
			ip := a.IP.String()
			if a.Zone != "" {
				ip += "%" + a.Zone
			}
			conn, err := base(ctx, network, net.JoinHostPort(ip, port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("dial %s: no address for %s", addr, strconv.Quote(host))
		}
		return nil, errors.Join(errs...)
	}
}
