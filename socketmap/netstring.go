package socketmap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Sentinel errors wrapped by *ProtocolError. Callers test with errors.Is.
var (
	// ErrSyntax reports bytes that do not follow the netstring, request or
	// reply grammar.
	ErrSyntax = errors.New("syntax error")
	// ErrTooLong reports a netstring whose declared length is over the
	// caller's limit. The payload has not been read or allocated.
	ErrTooLong = errors.New("too long")
)

// maxLengthDigits caps the length prefix of a netstring at nine digits
// (less than 1 GB), so that the length always fits in an int and a stream of
// digits is rejected long before it could overflow.
const maxLengthDigits = 9

// ProtocolError describes malformed input: which unit was being parsed, the
// byte at which the problem was found, and what was wrong. It wraps
// ErrSyntax, ErrTooLong or io.ErrUnexpectedEOF.
type ProtocolError struct {
	// Unit is what was being parsed: "netstring", "request" or "reply".
	Unit string
	// Offset is the position of the offending byte, counted from the first
	// byte of the unit (the first length digit for a netstring, the first
	// payload byte for a request or reply).
	Offset int
	// Reason says what was wrong, for people.
	Reason string
	// Length is the declared payload length when Err is ErrTooLong and the
	// length could be read; it is 0 otherwise.
	Length int
	// Err is ErrSyntax, ErrTooLong or io.ErrUnexpectedEOF.
	Err error
}

// Error returns "socketmap: <unit> byte <offset>: <reason>".
func (e *ProtocolError) Error() string { return "socketmap: " + e.describe() }

// Unwrap returns e.Err, for errors.Is.
func (e *ProtocolError) Unwrap() error { return e.Err }

// describe is Error without the package prefix, for replies and log lines.
func (e *ProtocolError) describe() string {
	return fmt.Sprintf("%s byte %d: %s", e.Unit, e.Offset, e.Reason)
}

// ReadNetstring reads one netstring "<length>:<payload>," from r and returns
// its payload.
//
// The syntax is djb's (https://cr.yp.to/proto/netstrings.txt), strictly:
// the length is one or more ASCII digits with no sign, no spaces and no
// leading zeros ("0:," is the empty string, "01:x," is an error, because the
// definition says the length begins with "0" exactly when the payload is
// empty), followed by ':', exactly that many payload bytes, and ','.
// Lengths of more than nine digits are refused.
//
// A declared length greater than max fails with ErrTooLong before any
// payload byte is read or allocated.
//
// At a clean end of input, before the first byte, ReadNetstring returns
// io.EOF. Malformed input yields a *ProtocolError wrapping ErrSyntax,
// ErrTooLong, or io.ErrUnexpectedEOF when the input ends inside the
// netstring. Other read errors (deadlines, resets) are returned wrapped with
// %w, so errors.Is still recognises them.
func ReadNetstring(r *bufio.Reader, max int) ([]byte, error) {
	return readNetstring(r, max, nil)
}

// readNetstring is ReadNetstring reusing buf for the payload when it is large
// enough.
func readNetstring(r *bufio.Reader, max int, buf []byte) ([]byte, error) {
	n, off, err := readLength(r, max)
	if err != nil {
		return nil, err
	}
	if cap(buf) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if k, err := io.ReadFull(r, buf); err != nil {
		return nil, netstringReadError(err, off+k)
	}
	if err := readComma(r, n, off+n); err != nil {
		return nil, err
	}
	return buf, nil
}

// readLength reads "<digits>:" and returns the declared length and the number
// of bytes consumed.
func readLength(r *bufio.Reader, max int) (n, off int, err error) {
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && off == 0 {
				return 0, 0, io.EOF
			}
			return 0, off, netstringReadError(err, off)
		}
		switch {
		case '0' <= c && c <= '9':
			if off > 0 && n == 0 {
				return 0, off, netstringError(off, ErrSyntax, "leading zero in length")
			}
			if off == maxLengthDigits {
				return 0, off, netstringError(off, ErrTooLong,
					fmt.Sprintf("length has more than %d digits", maxLengthDigits))
			}
			n = n*10 + int(c-'0')
			off++
		case c == ':' && off > 0:
			if n > max {
				e := netstringError(0, ErrTooLong, fmt.Sprintf("length %d is over the limit of %d", n, max))
				e.Length = n
				return 0, off + 1, e
			}
			return n, off + 1, nil
		case off == 0:
			return 0, off, netstringError(off, ErrSyntax, fmt.Sprintf("expected a length digit, got %q", c))
		default:
			return 0, off, netstringError(off, ErrSyntax, fmt.Sprintf("expected a digit or ':' in length, got %q", c))
		}
	}
}

// readComma reads the ',' that ends a netstring whose n-byte payload ended
// at byte off.
func readComma(r *bufio.Reader, n, off int) error {
	c, err := r.ReadByte()
	if err != nil {
		return netstringReadError(err, off)
	}
	if c != ',' {
		return netstringError(off, ErrSyntax, fmt.Sprintf("expected ',' after %d-byte payload, got %q", n, c))
	}
	return nil
}

// discardPayload skips the payload and the ',' of a netstring whose length
// prefix was refused with ErrTooLong (e.Length > 0), so that the next
// netstring can be read.
func discardPayload(r *bufio.Reader, e *ProtocolError) error {
	off := frameLen(e.Length) - e.Length - 1 // the length prefix and ':'
	k, err := r.Discard(e.Length)
	if err != nil {
		return netstringReadError(err, off+k)
	}
	return readComma(r, e.Length, off+e.Length)
}

func netstringError(off int, err error, reason string) *ProtocolError {
	return &ProtocolError{Unit: "netstring", Offset: off, Reason: reason, Err: err}
}

// netstringReadError turns a read error at byte off (not the first byte) into
// the error ReadNetstring returns.
func netstringReadError(err error, off int) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return netstringError(off, io.ErrUnexpectedEOF, "input ended inside the netstring")
	}
	return fmt.Errorf("socketmap: reading netstring byte %d: %w", off, err)
}

// AppendNetstring appends b encoded as a netstring to dst and returns the
// extended slice.
func AppendNetstring(dst, b []byte) []byte {
	return appendFrame(dst, b)
}

// appendFrame appends one netstring whose payload is the concatenation of
// parts.
func appendFrame[S ~string | ~[]byte](dst []byte, parts ...S) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':')
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return append(dst, ',')
}

// frameLen is the encoded size of a netstring with an n-byte payload.
func frameLen(n int) int {
	return len(strconv.Itoa(n)) + n + 2
}
