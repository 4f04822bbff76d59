package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/mtasts/mtasts/tlsrpt"
)

// gzipState is what a gzip reader holds (its window and tables), charged
// to a reservation before one is made.
const gzipState = 64 << 10

// parseReport parses the report in data as tlsrpt.Parse does, at most max
// bytes after decompression. With a reservation, it first learns the size
// of the report: that of data, or, for gzip, what it inflates to, counted
// by streaming it through without keeping it. A gzip bomb is thus refused
// (tlsrpt.ErrReportTooLarge) having cost a gzip reader's memory, not
// max bytes. Then it charges parseFactor times the size to the
// reservation, and parses. A reservation that runs out fails the parse
// with errBusy, or with errTooLarge.
func parseReport(data []byte, max int64, res *reservation) (*tlsrpt.Report, []tlsrpt.Diagnostic, error) {
	opts := tlsrpt.ParseOptions{MaxSize: max}
	if res == nil {
		return tlsrpt.Parse(bytes.NewReader(data), opts)
	}
	size := int64(len(data))
	if isGzip(data) {
		if err := res.acquire(gzipState); err != nil {
			return nil, nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, &tlsrpt.ReportError{Reason: "is not valid gzip", Err: err}
		}
		if size, err = io.Copy(io.Discard, io.LimitReader(zr, max+1)); err != nil {
			return nil, nil, &tlsrpt.ReportError{Reason: "has a corrupt gzip stream", Err: err}
		}
	}
	if size > max {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", tlsrpt.ErrReportTooLarge, max)
	}
	if err := res.acquire(parseFactor * size); err != nil {
		return nil, nil, err
	}
	return tlsrpt.Parse(bytes.NewReader(data), opts)
}

func isGzip(data []byte) bool { return bytes.HasPrefix(data, []byte{0x1f, 0x8b}) } // RFC 1952 §2.3.1

// sniffSize is how much of an input, decompressed, looksLikeReport reads.
const sniffSize = 64 << 10

// reportKeys are members of a report (RFC 8460 §4.3), one of which a JSON
// object must have to look like one.
var reportKeys = [][]byte{[]byte(`"organization-name"`), []byte(`"report-id"`), []byte(`"date-range"`), []byte(`"policies"`)}

// looksLikeReport tells input that failed to parse but was meant as a
// report (JSON with report members, gzipped or not; mail that speaks of
// TLS reports), which the quarantine keeps whole, from garbage, of which
// it keeps a prefix.
func looksLikeReport(input Input) bool {
	head := input.Data
	if isGzip(head) {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		head, _ = io.ReadAll(io.LimitReader(zr, sniffSize))
	}
	head = head[:min(len(head), sniffSize)]
	if input.Kind == KindMail {
		return bytes.Contains(bytes.ToLower(head), []byte("tlsrpt"))
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\ufeff")), " \t\r\n")
	if !bytes.HasPrefix(head, []byte("{")) {
		return false
	}
	for _, k := range reportKeys {
		if bytes.Contains(head, k) {
			return true
		}
	}
	return false
}
