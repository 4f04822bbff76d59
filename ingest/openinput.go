package ingest

import (
	"context"
	"os"
	"time"
)

// openInput opens the file path for Import so that ending ctx interrupts
// waiting on it. Only special files wait: opening a named pipe waits for a
// writer, and reading one (or a terminal) waits for data, which could be
// forever. The open of a file that is not regular runs in a goroutine,
// which ctx ending abandons (it closes the file if the open ever
// completes); reads are cut off by a deadline when ctx ends (Go polls
// pipes, so the deadline interrupts a read in progress). The caller calls
// the returned stop, then closes the file.
func openInput(ctx context.Context, path string) (f *os.File, stop func(), err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if fi.Mode().IsRegular() {
		f, err = os.Open(path)
	} else {
		f, err = openWaiting(ctx, path)
	}
	if err != nil {
		return nil, nil, err
	}
	stopDeadline := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	return f, func() { stopDeadline() }, nil
}

// openWaiting opens path in a goroutine and returns when the open does or
// ctx ends, whichever comes first.
func openWaiting(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
