// Package ctxio makes reads that block, such as those of standard input,
// return when a context ends.
package ctxio

import (
	"context"
	"io"
)

// NewReader returns a reader of r whose Read returns when the data comes
// or ctx ends, whichever is first, so that SIGINT and SIGTERM stop a
// command that waits on a terminal or a pipe nobody writes to. The read
// of r under way when ctx ends is abandoned, to be collected by the next
// Read if there is one: meant for a process about to exit.
func NewReader(ctx context.Context, r io.Reader) io.Reader {
	return &reader{ctx: ctx, r: r}
}

// reader is the reader of NewReader.
type reader struct {
	ctx context.Context
	r   io.Reader
	// pending delivers the result of the read under way, if any; rest is
	// what a read returned beyond what the caller could take.
	pending chan readResult
	rest    []byte
	err     error
}

type readResult struct {
	data []byte
	err  error
}

// readSize is the size of the reads of r.
const readSize = 32 << 10

func (c *reader) Read(p []byte) (int, error) {
	if len(c.rest) == 0 && c.err == nil {
		if c.pending == nil {
			done := make(chan readResult, 1)
			go func() {
				buf := make([]byte, readSize)
				n, err := c.r.Read(buf)
				done <- readResult{buf[:n], err}
			}()
			c.pending = done
		}
		select {
		case res := <-c.pending:
			c.pending, c.rest, c.err = nil, res.data, res.err
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	if len(c.rest) == 0 && c.err != nil {
		err := c.err
		c.err = nil
		return n, err
	}
	return n, nil
}
