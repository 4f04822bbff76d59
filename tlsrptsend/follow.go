package tlsrptsend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	head   string // the file's first line, hashed, once read
	// OnSwitch, if set, is called when the Follower goes over to a new
	// file, or back to the start of a truncated one.
	OnSwitch func()
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
	fl.f, fl.info, fl.offset, fl.head = f, info, 0, ""
	fl.lr.r = bufio.NewReaderSize(f, 64<<10)
	fl.lr.partial = fl.lr.partial[:0]
	return nil
}

// FilePosition is where a Follower is: the identity of the file it reads
// (device and inode, which a rotation by rename keeps) and the offset
// after the last line it returned.
//
// A file's first line (up to headLen bytes) tells it from a file that
// got the inode of a deleted one.
type FilePosition struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Head   string `json:"head,omitempty"` // the file's first line, hashed
	Offset int64  `json:"offset"`
}

// headLen bounds the start of a file that identifies it.
const headLen = 256

// Position returns where fl is.
func (fl *Follower) Position() FilePosition {
	dev, ino := fileID(fl.info)
	if fl.head == "" {
		fl.head = fileHead(fl.f)
	}
	return FilePosition{Dev: dev, Ino: ino, Head: fl.head, Offset: fl.offset}
}

// fileHead returns the hash of the first line of f, up to headLen bytes,
// or "" while that line is not complete.
func fileHead(f *os.File) string {
	buf := make([]byte, headLen)
	n, _ := f.ReadAt(buf, 0)
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		n = i + 1
	} else if n < headLen {
		return ""
	}
	sum := sha256.Sum256(buf[:n])
	return hex.EncodeToString(sum[:8])
}

// SameFile reports whether p and q are positions in the same file: the
// same device and inode and, where both know it, the same first line.
func (p FilePosition) SameFile(q FilePosition) bool {
	return p.Dev == q.Dev && p.Ino == q.Ino && (p.Head == "" || q.Head == "" || p.Head == q.Head)
}

// same reports whether the open file f, described by info, is the file
// of at.
func (at FilePosition) same(f *os.File, info os.FileInfo) bool {
	dev, ino := fileID(info)
	return at.SameFile(FilePosition{Dev: dev, Ino: ino, Head: fileHead(f)})
}

// ResumeFollower follows path from at, a Position of an earlier
// Follower: in the same file from the offset; if the file was rotated
// since, in the rotated file found by its identity in the same directory
// (mail.log.1, not a compressed one) from the offset and then in the new
// file from its start; if the file shrank, from its start. lost reports
// that the rotated file was not found, or the file was truncated, so
// that lines were skipped. The zero FilePosition means the start of path.
func ResumeFollower(path string, at FilePosition, poll time.Duration) (fl *Follower, lost bool, err error) {
	if fl, err = NewFollower(path, false, poll); err != nil {
		return nil, false, err
	}
	if at == (FilePosition{}) {
		return fl, false, nil
	}
	if !at.same(fl.f, fl.info) {
		old, ok := findFile(filepath.Dir(path), at)
		if !ok {
			return fl, true, nil
		}
		// Read the rest of the rotated file; at its end, checkRotation
		// goes over to path.
		fl.f.Close()
		fl.f, fl.info, fl.lr = old.f, old.info, old.lr
	}
	if fl.info.Size() < at.Offset {
		return fl, true, nil
	}
	if _, err := fl.f.Seek(at.Offset, io.SeekStart); err != nil {
		fl.f.Close()
		return nil, false, fmt.Errorf("tlsrptsend: following %s from %d: %w", path, at.Offset, err)
	}
	fl.lr.r.Reset(fl.f)
	fl.offset = at.Offset
	return fl, false, nil
}

// findFile returns a Follower of the regular file in dir that is the
// file of at.
func findFile(dir string, at FilePosition) (*Follower, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err != nil {
			continue
		} else if dev, ino := fileID(info); dev != at.Dev || ino != at.Ino {
			continue
		}
		fl := &Follower{path: filepath.Join(dir, e.Name())}
		if fl.open() != nil {
			continue
		}
		if at.same(fl.f, fl.info) {
			return fl, true
		}
		fl.Close()
	}
	return nil, false
}

func (fl *Follower) switched() {
	if fl.OnSwitch != nil {
		fl.OnSwitch()
	}
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
		if err := fl.open(); err != nil {
			return false, err
		}
		fl.switched()
		return true, nil
	}
	if info.Size() < fl.offset {
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("tlsrptsend: following %s after truncation: %w", fl.path, err)
		}
		fl.lr.r.Reset(fl.f)
		fl.lr.partial = fl.lr.partial[:0]
		fl.offset, fl.head = 0, ""
		fl.switched()
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
