package tlsrpt

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
)

// DefaultMaxSize is the default cap on a report's size after decompression
// (20 MiB). Daily reports of even the largest senders are far smaller.
const DefaultMaxSize = 20 << 20

// ParseOptions tunes Parse. The zero value is ready to use.
type ParseOptions struct {
	// MaxSize caps the report after decompression and the input before it,
	// in bytes; 0 means DefaultMaxSize. Larger input fails with
	// ErrReportTooLarge without being read further, so a gzip bomb costs at
	// most MaxSize bytes of memory.
	MaxSize int64
}

func (o ParseOptions) maxSize() int64 {
	if o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// Parse reads an aggregate TLS report (RFC 8460 §4), plain JSON or gzipped
// (application/tlsrpt+json or application/tlsrpt+gzip, RFC 8460 §5.3; gzip is
// recognised by its magic bytes).
//
// Parse is tolerant of what real senders emit. Each deviation from the RFC
// that it works around is returned as a Diagnostic: see the Diag* codes.
// Among them: mx-host as a string (erratum 6241), policy-string missing or
// holding a JSON-encoded array, contact-info null, policy-domain missing,
// failure details without IP addresses, date-times without UTC offset,
// end-datetime at midnight of the next day, totals that disagree with the
// failure details, and unknown policy or result types, which are kept.
//
// Parse fails, with an error matching ErrReportSyntax, only when the input
// is not gzip or JSON; when a member has a JSON type that cannot be used
// (a count that is not an integer, a date-range that is not an object);
// when a session count exceeds MaxSessionCount (no sender counts that
// many, and such counts would overflow the sums of a report store);
// when the report has neither organization-name nor report-id; when
// date-range or either of its date-times is missing or unreadable; or when
// policies is missing. Input over MaxSize fails with ErrReportTooLarge.
// Errors from r are returned as they are.
func Parse(r io.Reader, opts ParseOptions) (*Report, []Diagnostic, error) {
	data, err := readReport(r, opts.maxSize())
	if err != nil {
		return nil, nil, err
	}
	return parseJSON(data)
}

// readReport reads at most max bytes, decompressing gzip if the input
// starts with its magic number (RFC 1952 §2.3.1).
func readReport(r io.Reader, max int64) ([]byte, error) {
	raw := &io.LimitedReader{R: r, N: max + 1}
	br := bufio.NewReader(raw)
	var src io.Reader = br
	gzipped := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := newGzipReader(br)
		if err != nil {
			return nil, &ReportError{Reason: "is not valid gzip", Err: err}
		}
		defer gzipReaders.Put(zr)
		src, gzipped = zr, true
	}
	data, err := io.ReadAll(io.LimitReader(src, max+1))
	if raw.N <= 0 || int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrReportTooLarge, max)
	}
	if err != nil {
		var corrupt flate.CorruptInputError
		if gzipped && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt)) {
			return nil, &ReportError{Reason: "has a corrupt gzip stream", Err: err}
		}
		return nil, err
	}
	return data, nil
}

// gzipReaders keeps gzip readers for reuse: a new one allocates tens of
// KiB for its window, which showed in profiles of bulk imports.
var gzipReaders sync.Pool

// newGzipReader returns a gzip reader of r, from gzipReaders if it has
// one; put it back there when done.
func newGzipReader(r io.Reader) (*gzip.Reader, error) {
	zr, ok := gzipReaders.Get().(*gzip.Reader)
	if !ok {
		return gzip.NewReader(r)
	}
	if err := zr.Reset(r); err != nil {
		gzipReaders.Put(zr)
		return nil, err
	}
	return zr, nil
}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// parseJSON decodes the JSON of a report; see Parse.
func parseJSON(data []byte) (*Report, []Diagnostic, error) {
	var d diagnoser
	if rest, ok := bytes.CutPrefix(data, utf8BOM); ok {
		d.add(DiagByteOrderMark, "", "starts with a UTF-8 byte order mark (RFC 8259 §8.1)")
		data = rest
	}
	var w wireReport
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, nil, &ReportError{Path: te.Field, Reason: fmt.Sprintf("is a JSON %s, want %s", te.Value, jsonKind(te.Type))}
		}
		return nil, nil, &ReportError{Reason: "is not valid JSON", Err: err}
	}
	rep, err := fromWire(&w, &d)
	if err != nil {
		return nil, nil, err
	}
	return rep, d.diags, nil
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return "another type"
}
