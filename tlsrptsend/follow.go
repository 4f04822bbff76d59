package tlsrptsend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxLineLen bounds a log line; longer lines are cut there (syslog
// daemons cut far earlier).
const maxLineLen = 64 << 10

// Follower reads the lines of a log file as they are written, like
// "tail -F": at the end of the file it waits for more; when the file is
// rotated by rename and a new file is created under the name, it finishes
// the old file and goes on with the new one from its start; when the file
// is truncated in place (logrotate's copytruncate), it starts again from
// the beginning. Lines written between logrotate's copy and its truncation
// are lost, as they are for every reader.
type Follower struct {
	path string
	poll time.Duration

	f      *os.File
	info   os.FileInfo
	lr     lineReader
	offset int64
	// drained is set when the path was found to name a new file and the
	// old one is being read to its end one last time.
	drained bool
}

// lineReader reads lines of any length, cutting them at maxLineLen. At
// the end of its input it keeps an unfinished last line until the rest
// comes.
type lineReader struct {
	r       *bufio.Reader
	partial []byte // the line read so far
	line    []byte
}

// next returns the next line without its newline and the bytes consumed,
// or io.EOF at the end of the input for now.
func (lr *lineReader) next() ([]byte, int, error) {
	n := 0
	for {
		chunk, err := lr.r.ReadSlice('\n')
		n += len(chunk)
		switch {
		case err == nil:
			if len(lr.partial) == 0 {
				return chunk[:len(chunk)-1], n, nil
			}
			lr.line = appendCapped(append(lr.line[:0], lr.partial...), chunk[:len(chunk)-1])
			lr.partial = lr.partial[:0]
			return lr.line, n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			lr.partial = appendCapped(lr.partial, chunk)
		default:
			lr.partial = appendCapped(lr.partial, chunk)
			return nil, n, err
		}
	}
}

// NewFollower opens path and follows it from its start, or from its
// current end if fromEnd, checking for more every poll (250 ms if zero).
func NewFollower(path string, fromEnd bool, poll time.Duration) (*Follower, error) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	fl := &Follower{path: path, poll: poll}
	if err := fl.open(); err != nil {
		return nil, err
	}
	if fromEnd {
		off, err := fl.f.Seek(0, io.SeekEnd)
		if err != nil {
			fl.f.Close()
			return nil, fmt.Errorf("tlsrptsend: following %s: %w", path, err)
		}
		fl.offset = off
	}
	return fl, nil
}

func (fl *Follower) open() error {
	f, err := os.Open(fl.path)
	if err != nil {
		return fmt.Errorf("tlsrptsend: following log: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("tlsrptsend: following log: %w", err)
	}
	if fl.f != nil {
		fl.f.Close()
	}
	fl.f, fl.info, fl.offset = f, info, 0
	fl.lr.r = bufio.NewReaderSize(f, 64<<10)
	fl.lr.partial = fl.lr.partial[:0]
	return nil
}

// Close closes the file.
func (fl *Follower) Close() error { return fl.f.Close() }

// ReadLine returns the next complete line without its newline, waiting
// for it as long as ctx allows. The line is valid until the next call.
func (fl *Follower) ReadLine(ctx context.Context) ([]byte, error) {
	for {
		line, n, err := fl.lr.next()
		fl.offset += int64(n)
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("tlsrptsend: reading %s: %w", fl.path, err)
		}
		rotated, err := fl.checkRotation()
		if err != nil {
			return nil, err
		}
		if rotated {
			continue
		}
		t := time.NewTimer(fl.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func appendCapped(dst, b []byte) []byte {
	if room := maxLineLen - len(dst); room < len(b) {
		b = b[:max(room, 0)]
	}
	return append(dst, b...)
}

// checkRotation looks, at the end of the file, whether the path now names
// another file (rotated: read the new one from its start) or the file
// shrank (truncated: read it again from its start).
func (fl *Follower) checkRotation() (bool, error) {
	info, err := os.Stat(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // between rename and create
	}
	if err != nil {
		return false, fmt.Errorf("tlsrptsend: following %s: %w", fl.path, err)
	}
	if !os.SameFile(info, fl.info) {
		// Read what was written to the old file before the new one was
		// created, then go over. An unfinished last line of the old file
		// stays unfinished.
		if !fl.drained {
			fl.drained = true
			return true, nil
		}
		fl.drained = false
		return true, fl.open()
	}
	if info.Size() < fl.offset {
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("tlsrptsend: following %s after truncation: %w", fl.path, err)
		}
		fl.lr.r.Reset(fl.f)
		fl.lr.partial = fl.lr.partial[:0]
		fl.offset = 0
		return true, nil
	}
	return false, nil
}

// PostfixLog is the Source of outcomes from Postfix's log: a file
// followed across rotation (Path), or a stream such as the output of
// "journalctl -f -o short-iso -u postfix@-" on stdin (Reader).
type PostfixLog struct {
	Parser *PostfixParser
	// Path is a log file to follow; when empty, Reader is read to its end.
	Path    string
	FromEnd bool          // start at the end of Path rather than its start
	Poll    time.Duration // how often to look for more at the end of Path
	Reader  io.Reader
}

// Run parses the log until ctx is done (Path) or the stream ends (Reader),
// recording outcomes in rec.
func (l *PostfixLog) Run(ctx context.Context, rec Recorder) error {
	if l.Path == "" {
		return l.readStream(ctx, rec)
	}
	fl, err := NewFollower(l.Path, l.FromEnd, l.Poll)
	if err != nil {
		return err
	}
	defer fl.Close()
	for {
		line, err := fl.ReadLine(ctx)
		if err != nil {
			return err
		}
		l.Parser.Parse(line, rec)
	}
}

func (l *PostfixLog) readStream(ctx context.Context, rec Recorder) error {
	if l.Reader == nil {
		return errors.New("tlsrptsend: PostfixLog has neither Path nor Reader")
	}
	lr := lineReader{r: bufio.NewReaderSize(l.Reader, 64<<10)}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			if len(lr.partial) > 0 {
				l.Parser.Parse(lr.partial, rec)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("tlsrptsend: reading Postfix log: %w", err)
		}
		l.Parser.Parse(line, rec)
	}
}
