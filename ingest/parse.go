package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"

	"github.com/mtasts/mtasts/tlsrpt"
)

// gzipState is what a gzip reader holds (its window and tables), charged
// to a reservation before one is made.
const gzipState = 64 << 10

// parseReport parses the report in data as tlsrpt.Parse does. With a
// reservation, gzip is decompressed here, on the way into Parse, and every
// byte Parse reads is charged to the reservation parseFactor times: the
// memory of a gzip bomb is refused once the budget is spent, while it
// inflates, not after. A reservation that runs out fails the parse with
// errBusy, or with errTooLarge (which matches tlsrpt.ErrReportTooLarge).
func parseReport(data []byte, opts tlsrpt.ParseOptions, res *reservation) (*tlsrpt.Report, []tlsrpt.Diagnostic, error) {
	if res == nil {
		return tlsrpt.Parse(bytes.NewReader(data), opts)
	}
	var r io.Reader = bytes.NewReader(data)
	if isGzip(data) {
		if err := res.acquire(gzipState); err != nil {
			return nil, nil, err
		}
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, &tlsrpt.ReportError{Reason: "is not valid gzip", Err: err}
		}
		br := bufio.NewReader(inflated{zr})
		// Parse would inflate gzip within gzip itself, out of the
		// reservation's sight.
		if magic, _ := br.Peek(2); isGzip(magic) {
			return nil, nil, &tlsrpt.ReportError{Reason: "is gzip within gzip"}
		}
		r = br
	}
	return tlsrpt.Parse(&metered{r: r, res: res}, opts)
}

func isGzip(data []byte) bool { return bytes.HasPrefix(data, []byte{0x1f, 0x8b}) } // RFC 1952 §2.3.1

// inflated reads a gzip stream, its errors made report syntax errors as
// tlsrpt.Parse makes them.
type inflated struct{ zr *gzip.Reader }

func (r inflated) Read(p []byte) (int, error) {
	n, err := r.zr.Read(p)
	if err != nil && err != io.EOF {
		err = &tlsrpt.ReportError{Reason: "has a corrupt gzip stream", Err: err}
	}
	return n, err
}

// metered charges what is read through it to a reservation.
type metered struct {
	r   io.Reader
	res *reservation
}

func (m *metered) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if aerr := m.res.acquire(parseFactor * int64(n)); aerr != nil {
		return n, aerr
	}
	return n, err
}

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
