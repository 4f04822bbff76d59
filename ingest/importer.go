package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtasts/mtasts/reportstore"
)

// ImportOptions tune Import. The zero value is ready to use.
type ImportOptions struct {
	// BatchSize is how many inputs are stored per transaction; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Progress, if not nil, is called after each file with the number of
	// files done and in all.
	Progress func(done, total int)
}

// DefaultBatchSize is the default number of inputs per transaction.
const DefaultBatchSize = 256

// ImportGCPercent is the garbage collector setting (debug.SetGCPercent)
// for a process whose job is a bulk import, as "mtasts reports import":
// its live heap is small and nearly everything it allocates dies with the
// report, so collecting at 4× rather than 2× the live heap saves about a
// fifth of the CPU for some tens of MiB.
const ImportGCPercent = 400

// FileResult is what became of one input of Import: a file, or one mail
// of an mbox.
type FileResult struct {
	// Path is the file, followed by "#N" for the N-th mail of an mbox.
	Path string
	*Outcome
	// Err is why nothing was stored: the file could not be read, or the
	// store failed.
	Err error
}

// Import reads files and directories of reports and stores what they
// hold: .json and .json.gz reports, mails (.eml), mbox files and Maildir
// folders (cur and new; tmp is skipped), recognised by their content
// rather than their name. Directories are read recursively, in name
// order. Each input is reported to fn, in order, once it is stored. Import
// returns an error only when ctx ends; every input that could be stored
// is stored.
func (in *Ingester) Import(ctx context.Context, paths []string, opts ImportOptions, fn func(FileResult)) error {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	files, errs := listFiles(paths)
	for _, r := range errs {
		fn(r)
	}
	b := &batcher{in: in, size: opts.BatchSize, fn: fn}
	for i, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.addFile(ctx, path); err != nil {
			b.flush(ctx)
			fn(FileResult{Path: path, Err: err})
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(files))
		}
	}
	b.flush(ctx)
	return ctx.Err()
}

// listFiles expands paths into the files to read, in order.
func listFiles(paths []string) ([]string, []FileResult) {
	var files []string
	var errs []FileResult
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, FileResult{Path: p, Err: err})
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		maildir := map[string]bool{}
		inMaildir := func(dir string) bool {
			v, ok := maildir[dir]
			if !ok {
				v = isMaildir(dir)
				maildir[dir] = v
			}
			return v
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			parent := filepath.Dir(path)
			switch {
			case err != nil:
				errs = append(errs, FileResult{Path: path, Err: err})
			case d.IsDir() && d.Name() == "tmp" && inMaildir(parent):
				// Maildir: deliveries still being written.
				return filepath.SkipDir
			case !d.Type().IsRegular():
			case inMaildir(parent):
				// The folder's own files (dovecot-uidlist, maildirfolder,
				// indexes...) are not mail.
			case strings.HasPrefix(d.Name(), ".") && (filepath.Base(parent) == "cur" || filepath.Base(parent) == "new") && inMaildir(filepath.Dir(parent)):
				// Not a message, by the Maildir convention.
			default:
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, FileResult{Path: p, Err: err})
		}
	}
	return files, errs
}

// isMaildir reports whether dir has the cur and new folders of a Maildir.
func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// batcher collects inputs and stores them a batch at a time.
type batcher struct {
	in     *Ingester
	size   int
	fn     func(FileResult)
	inputs []Input
	names  []string
	br     *bufio.Reader // reused for every file
}

func (b *batcher) add(ctx context.Context, name string, input Input) {
	b.inputs = append(b.inputs, input)
	b.names = append(b.names, name)
	if len(b.inputs) >= b.size {
		b.flush(ctx)
	}
}

func (b *batcher) flush(ctx context.Context) {
	if len(b.inputs) == 0 {
		return
	}
	for i, out := range b.in.IngestBatch(ctx, b.inputs) {
		b.fn(FileResult{Path: b.names[i], Outcome: out, Err: out.Err})
	}
	b.inputs, b.names = b.inputs[:0], b.names[:0]
}

// addFile reads one file into the batch: a report, a mail or an mbox.
func (b *batcher) addFile(ctx context.Context, path string) error {
	f, stop, err := openInput(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer stop()
	if b.br == nil {
		b.br = bufio.NewReaderSize(f, 64<<10)
	}
	b.br.Reset(f)
	if head, _ := b.br.Peek(5); string(head) == "From " {
		return b.addMbox(ctx, path, b.br)
	}
	limit := b.in.maxMail()
	var data []byte
	if fi, err := f.Stat(); err == nil && fi.Size() <= limit {
		// Read the whole file into a buffer of its size.
		data = make([]byte, 0, fi.Size()+1)
	}
	data, err = readLimitedInto(data, b.br, limit)
	if err != nil {
		return err
	}
	b.add(ctx, path, Input{Data: data, Kind: sniffKind(data), Source: reportstore.SourceFile, Origin: path})
	return nil
}

// sniffKind tells a report (gzip, or JSON starting with "{") from a mail.
func sniffKind(data []byte) Kind {
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return KindReport
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte{0xef, 0xbb, 0xbf}), " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("{")) || bytes.HasPrefix(trimmed, []byte("[")) {
		return KindReport
	}
	return KindMail
}

// addMbox adds each mail of an mbox file. Lines "From " start a mail;
// ">From " lines are unescaped as in mboxrd (one ">" removed from lines
// of ">"s followed by "From ").
func (b *batcher) addMbox(ctx context.Context, path string, r *bufio.Reader) error {
	limit := b.in.maxMail()
	var msg bytes.Buffer
	n := 0
	tooLarge := false
	emit := func() {
		if n == 0 {
			return
		}
		name := fmt.Sprintf("%s#%d", path, n)
		if tooLarge {
			b.flush(ctx)
			b.fn(FileResult{Path: name, Err: fmt.Errorf("mail larger than %d bytes; not stored", limit)})
			return
		}
		data := bytes.Clone(msg.Bytes())
		b.add(ctx, name, Input{Data: data, Kind: KindMail, Source: reportstore.SourceFile, Origin: name})
	}
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: keep reading it.
			rest, err2 := r.ReadBytes('\n')
			line, err = append(bytes.Clone(line), rest...), err2
		}
		if len(line) > 0 {
			switch {
			case bytes.HasPrefix(line, []byte("From ")):
				emit()
				n++
				msg.Reset()
				tooLarge = false
			case isEscapedFrom(line):
				line = line[1:]
				fallthrough
			default:
				if !tooLarge && int64(msg.Len()+len(line)) <= limit {
					msg.Write(line)
				} else {
					tooLarge = true
				}
			}
		}
		if err == io.EOF {
			emit()
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isEscapedFrom reports whether line is ">From ", ">>From ", ….
func isEscapedFrom(line []byte) bool {
	rest := bytes.TrimLeft(line, ">")
	return len(rest) < len(line) && bytes.HasPrefix(rest, []byte("From "))
}
