package socketmap

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// netstringCases are the unit cases of ReadNetstring; FuzzReadNetstring is
// seeded from them.
var netstringCases = []struct {
	name    string
	in      string
	max     int
	want    string // payload, when err is nil
	rest    string // input left unread after a success
	err     error  // ErrSyntax, ErrTooLong, io.ErrUnexpectedEOF or io.EOF
	offset  int    // ProtocolError.Offset
	length  int    // ProtocolError.Length
	inError string // substring of the error text
}{
	{name: "empty string", in: "0:,", want: ""},
	{name: "hello", in: "5:hello,", want: "hello"},
	{name: "djb example", in: "12:hello world!,", want: "hello world!"},
	{name: "binary payload", in: "5:a\x00:,b,", want: "a\x00:,b"},
	{name: "comma payload", in: "1:,,", want: ","},
	{name: "leaves the rest", in: "3:abc,3:def,", want: "abc", rest: "3:def,"},
	{name: "exactly at limit", in: "4:abcd,", max: 4, want: "abcd"},
	{name: "socketmap request", in: "15:sts example.com,", want: "sts example.com"},

	{name: "clean end", in: "", err: io.EOF},
	{name: "leading zero", in: "01:x,", err: ErrSyntax, offset: 1, inError: "leading zero"},
	{name: "double zero", in: "00:,", err: ErrSyntax, offset: 1},
	{name: "plus sign", in: "+5:hello,", err: ErrSyntax, offset: 0, inError: `got '+'`},
	{name: "minus sign", in: "-1:,", err: ErrSyntax, offset: 0},
	{name: "leading space", in: " 5:hello,", err: ErrSyntax, offset: 0},
	{name: "space before colon", in: "5 :hello,", err: ErrSyntax, offset: 1, inError: "digit or ':'"},
	{name: "no digits", in: ":,", err: ErrSyntax, offset: 0},
	{name: "letter in length", in: "1x:a,", err: ErrSyntax, offset: 1},
	{name: "zero then letter", in: "0x", err: ErrSyntax, offset: 1},
	{name: "hex length", in: "0x5:hello,", err: ErrSyntax, offset: 1},
	{name: "missing comma", in: "5:hello;", err: ErrSyntax, offset: 7, inError: "expected ',' after 5-byte payload"},
	{name: "payload longer than length", in: "3:hello,", err: ErrSyntax, offset: 5},
	{name: "newline instead of comma", in: "5:hello\n", err: ErrSyntax, offset: 7},
	{name: "ends in length", in: "5", err: io.ErrUnexpectedEOF, offset: 1},
	{name: "ends after colon", in: "5:", err: io.ErrUnexpectedEOF, offset: 2},
	{name: "ends in payload", in: "5:hel", err: io.ErrUnexpectedEOF, offset: 5},
	{name: "ends before comma", in: "5:hello", err: io.ErrUnexpectedEOF, offset: 7},
	{name: "over limit", in: "11:hello world,", max: 10, err: ErrTooLong, offset: 0, length: 11, inError: "over the limit of 10"},
	{name: "huge length", in: "999999999:", max: 10, err: ErrTooLong, length: 999999999},
	{name: "ten digits", in: "1234567890:", err: ErrTooLong, offset: 9, inError: "more than 9 digits"},
	{name: "limit zero", in: "1:a,", max: -1, err: ErrTooLong, length: 1},
}

func TestReadNetstring(t *testing.T) {
	for _, tc := range netstringCases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			switch max {
			case 0:
				max = 1 << 20
			case -1:
				max = 0
			}
			r := bufio.NewReader(strings.NewReader(tc.in))
			got, err := ReadNetstring(r, max)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("ReadNetstring(%q) = error %v", tc.in, err)
				}
				if string(got) != tc.want {
					t.Errorf("ReadNetstring(%q) = %q, want %q", tc.in, got, tc.want)
				}
				rest, _ := io.ReadAll(r)
				if string(rest) != tc.rest {
					t.Errorf("left %q unread, want %q", rest, tc.rest)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("ReadNetstring(%q) = %q, %v; want error %v", tc.in, got, err, tc.err)
			}
			if tc.err == io.EOF {
				if err != io.EOF {
					t.Errorf("clean end returned %v, want io.EOF itself", err)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
			if pe.Unit != "netstring" || pe.Offset != tc.offset || pe.Length != tc.length {
				t.Errorf("error %+v: want unit netstring, offset %d, length %d", pe, tc.offset, tc.length)
			}
			if !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("error %q does not mention %q", err, tc.inError)
			}
		})
	}
}

// TestReadNetstringLimitBeforeAllocation checks that a huge declared length
// is refused before the payload is read or memory is set aside for it.
func TestReadNetstringLimitBeforeAllocation(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("999999999:rest"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadNetstring(r, 1000)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a refused netstring", grew)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "rest" {
		t.Errorf("payload was read: %q left", rest)
	}
}

func TestDiscardPayload(t *testing.T) {
	tests := []struct {
		in         string
		next       string // payload of the netstring after the skipped one
		wantErr    error
		wantOffset int
	}{
		{in: "20:aaaaaaaaaaaaaaaaaaaa,3:abc,", next: "abc"},
		{in: "20:aaaaaaaaaaaaaaaaaaaa;3:abc,", wantErr: ErrSyntax, wantOffset: 23},
		{in: "20:aaaa", wantErr: io.ErrUnexpectedEOF, wantOffset: 7},
	}
	for _, tc := range tests {
		r := bufio.NewReader(strings.NewReader(tc.in))
		_, err := ReadNetstring(r, 10)
		var pe *ProtocolError
		if !errors.As(err, &pe) || !errors.Is(err, ErrTooLong) {
			t.Fatalf("%q: err = %v, want ErrTooLong", tc.in, err)
		}
		err = discardPayload(r, pe)
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("%q: discardPayload = %v, want %v", tc.in, err, tc.wantErr)
		}
		if tc.wantErr != nil {
			if errors.As(err, &pe); pe.Offset != tc.wantOffset {
				t.Errorf("%q: offset %d, want %d", tc.in, pe.Offset, tc.wantOffset)
			}
			continue
		}
		got, err := ReadNetstring(r, 10)
		if err != nil || string(got) != tc.next {
			t.Errorf("%q: next = %q, %v; want %q", tc.in, got, err, tc.next)
		}
	}
}

func TestAppendNetstring(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "0:,"},
		{"hello world!", "12:hello world!,"},
		{"a\x00,", "3:a\x00,,"},
		{strings.Repeat("x", 100000), "100000:" + strings.Repeat("x", 100000) + ","},
	}
	for _, tc := range tests {
		got := AppendNetstring([]byte("prefix"), []byte(tc.in))
		if string(got) != "prefix"+tc.want {
			t.Errorf("AppendNetstring(%.20q) = %.40q, want %.40q", tc.in, got, "prefix"+tc.want)
		}
		back, err := ReadNetstring(bufio.NewReader(strings.NewReader(tc.want)), len(tc.in))
		if err != nil || string(back) != tc.in {
			t.Errorf("round trip of %.20q: %.20q, %v", tc.in, back, err)
		}
		if n := frameLen(len(tc.in)); n != len(tc.want) {
			t.Errorf("frameLen(%d) = %d, want %d", len(tc.in), n, len(tc.want))
		}
	}
}
