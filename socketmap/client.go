package socketmap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Client is the client side of a socketmap connection, for tests and for
// querying a socketmap server from the command line. It is safe for
// concurrent use; calls take turns on the one connection.
//
// After an error that may have left the connection out of step (a timeout,
// a canceled context, a malformed reply), every later call returns that
// error; Dial again.
type Client struct {
	// MaxReply is the largest reply payload accepted; 0 means
	// DefaultMaxReply. Set it before the first lookup.
	MaxReply int

	nc  net.Conn
	br  *bufio.Reader
	mu  sync.Mutex // serialises lookups
	err error      // sticky error that broke the connection
	buf []byte     // reused request and reply buffer

	deadline time.Time // the deadline set on nc
}

// Dial connects to a socketmap server on network ("tcp" or "unix") and
// addr.
func Dial(ctx context.Context, network, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return NewClient(nc), nil
}

// NewClient returns a Client that speaks over nc.
func NewClient(nc net.Conn) *Client {
	return &Client{nc: nc, br: bufio.NewReader(nc)}
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// Lookup asks the map mapName for key and returns the reply. A TEMP,
// TIMEOUT or PERM reply is a Reply, not an error; errors are about the
// connection or the syntax of the reply.
func (c *Client) Lookup(ctx context.Context, mapName, key string) (Reply, error) {
	replies, err := c.LookupAll(ctx, Request{Map: mapName, Key: key})
	if err != nil {
		return Reply{}, err
	}
	return replies[0], nil
}

// LookupAll pipelines reqs: it sends them all in one write, then reads the
// replies, which come in request order.
func (c *Client) LookupAll(ctx context.Context, reqs ...Request) ([]Reply, error) {
	for _, r := range reqs {
		if r.Map == "" || strings.Contains(r.Map, " ") {
			return nil, fmt.Errorf("socketmap: invalid map name %q", r.Map)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	replies, err := c.exchange(ctx, reqs)
	if err != nil {
		if cerr := contextError(ctx, err); cerr != nil {
			err = fmt.Errorf("socketmap: %w", cerr)
		}
		c.err = fmt.Errorf("%w (connection unusable)", err)
		return nil, err
	}
	return replies, nil
}

// contextError returns the context's error when ctx caused err: it was
// canceled, or its deadline, which is also the connection's, has passed.
func contextError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// exchange writes reqs and reads their replies, within ctx.
func (c *Client) exchange(ctx context.Context, reqs []Request) ([]Reply, error) {
	deadline, _ := ctx.Deadline()
	if !deadline.Equal(c.deadline) {
		if err := c.nc.SetDeadline(deadline); err != nil {
			return nil, err
		}
		c.deadline = deadline
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
		defer func() {
			if !stop() {
				c.deadline = aLongTimeAgo // set by the AfterFunc
			}
		}()
	}

	c.buf = c.buf[:0]
	for _, r := range reqs {
		c.buf = appendFrame(c.buf, r.Map, " ", r.Key)
	}
	if _, err := c.nc.Write(c.buf); err != nil {
		return nil, err
	}
	limit := orDefault(c.MaxReply, DefaultMaxReply)
	replies := make([]Reply, len(reqs))
	for i := range replies {
		payload, err := readNetstring(c.br, limit, c.buf[:0])
		if err == io.EOF {
			return nil, fmt.Errorf("socketmap: server closed the connection after %d of %d replies", i, len(reqs))
		}
		if err != nil {
			return nil, err
		}
		c.buf = payload[:0]
		if replies[i], err = ParseReply(payload); err != nil {
			return nil, err
		}
	}
	return replies, nil
}
