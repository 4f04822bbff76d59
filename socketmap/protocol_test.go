package socketmap

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRequest(t *testing.T) {
	good := func(in, m, key string) {
		t.Helper()
		got, err := ParseRequest([]byte(in))
		if err != nil || got != (Request{Map: m, Key: key}) {
			t.Errorf("ParseRequest(%q) = %+v, %v; want map %q key %q", in, got, err, m, key)
		}
		if err == nil && got.String() != in {
			t.Errorf("Request.String() = %q, want %q", got.String(), in)
		}
	}
	bad := func(in string, offset int, reason string) {
		t.Helper()
		_, err := ParseRequest([]byte(in))
		var pe *ProtocolError
		if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
			t.Fatalf("ParseRequest(%q) error = %v, want a syntax *ProtocolError", in, err)
		}
		if pe.Unit != "request" || pe.Offset != offset || !strings.Contains(pe.Reason, reason) {
			t.Errorf("ParseRequest(%q) error = %+v, want offset %d and %q", in, pe, offset, reason)
		}
	}
	good("sts example.com", "sts", "example.com")
	good("sts [mx.example.com]:25", "sts", "[mx.example.com]:25")
	good("sts ", "sts", "")                               // empty key: the handler decides
	good("sts key with spaces", "sts", "key with spaces") // the key is all after the first space
	good("sts  lead", "sts", " lead")
	good("a\tb c", "a\tb", "c")
	bad("sts", 3, "missing space")
	bad("", 0, "missing space")
	bad(" example.com", 0, "empty map name")
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want Reply
		err  bool
	}{
		{in: "OK secure match=mx.example.com", want: OK("secure match=mx.example.com")},
		{in: "OK ", want: OK("")},
		{in: "OK", want: OK("")},
		{in: "NOTFOUND ", want: NotFound()},
		{in: "NOTFOUND", want: NotFound()}, // Sendmail's form
		{in: "TEMP dns failure", want: Temp("dns failure")},
		{in: "TIMEOUT slow", want: Timeout("slow")},
		{in: `PERM unknown map "x"`, want: Perm(`unknown map "x"`)},
		{in: "PERM  two spaces", want: Perm(" two spaces")},
		{in: "ok lower case", err: true},
		{in: "FOUND x", err: true},
		{in: "", err: true},
		{in: " OK x", err: true},
	}
	for _, tc := range tests {
		got, err := ParseReply([]byte(tc.in))
		if tc.err {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("ParseReply(%q) = %+v, %v; want syntax error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestReplyString(t *testing.T) {
	tests := []struct {
		r    Reply
		want string
	}{
		{OK("secure"), "OK secure"},
		{NotFound(), "NOTFOUND "},
		{Reply{Status: StatusNotFound, Data: "ignored"}, "NOTFOUND "},
		{Temp("later"), "TEMP later"},
		{Timeout("slow"), "TIMEOUT slow"},
		{Perm("no"), "PERM no"},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestReplyFit(t *testing.T) {
	const max = 100
	long := strings.Repeat("x", 200)
	tests := []struct {
		name     string
		in       Reply
		want     string // payload after fit
		wantNote string // substring of the note; "" for no change
	}{
		{name: "fits", in: OK("secure"), want: "OK secure"},
		{name: "exactly at limit", in: OK(strings.Repeat("y", max-3)), want: "OK " + strings.Repeat("y", max-3)},
		{name: "OK too long becomes TEMP", in: OK(strings.Repeat("y", max-2)),
			want: "TEMP lookup result too long (101 bytes, limit 100)", wantNote: "sent TEMP"},
		{name: "reason truncated", in: Temp(long), want: "TEMP " + long[:max-5], wantNote: "truncated"},
		{name: "perm reason truncated", in: Perm(long), want: "PERM " + long[:max-5], wantNote: "truncated"},
		{name: "notfound data dropped", in: Reply{Status: StatusNotFound, Data: "x"}, want: "NOTFOUND "},
		{name: "zero reply", in: Reply{}, want: "TEMP internal error: invalid reply status", wantNote: "invalid status"},
		{name: "lower-case status", in: Reply{Status: "ok", Data: "x"}, want: "TEMP internal error: invalid reply status", wantNote: `"ok"`},
	}
	for _, tc := range tests {
		got, note := tc.in.fit(max)
		if got.String() != tc.want {
			t.Errorf("%s: fit = %q, want %q", tc.name, got.String(), tc.want)
		}
		if (note == "") != (tc.wantNote == "") || !strings.Contains(note, tc.wantNote) {
			t.Errorf("%s: note = %q, want %q", tc.name, note, tc.wantNote)
		}
		if len(got.String()) > max {
			t.Errorf("%s: %d bytes, over %d", tc.name, len(got.String()), max)
		}
	}
}

func TestReplyFitUTF8(t *testing.T) {
	// "é" is two bytes; a cut in its middle must drop the whole character.
	reason := strings.Repeat("é", 100)
	for max := minReplyLimit; max < minReplyLimit+4; max++ {
		got, _ := Temp(reason).fit(max)
		if len(got.String()) > max || !utf8.ValidString(got.Data) {
			t.Errorf("fit(%d) = %q: %d bytes, valid UTF-8 %v", max, got.Data, len(got.String()), utf8.ValidString(got.Data))
		}
	}
}

func TestMux(t *testing.T) {
	var m Mux
	ctx := context.Background()
	if got := m.Lookup(ctx, Request{Map: "sts", Key: "a"}); got != Perm(`unknown map "sts"`) {
		t.Errorf("zero Mux: %+v", got)
	}
	m.HandleFunc("sts", func(_ context.Context, r Request) Reply { return OK("sts:" + r.Key) })
	m.Handle("other", HandlerFunc(func(context.Context, Request) Reply { return NotFound() }))
	tests := []struct {
		req  Request
		want Reply
	}{
		{Request{Map: "sts", Key: "example.com"}, OK("sts:example.com")},
		{Request{Map: "other", Key: "x"}, NotFound()},
		{Request{Map: "STS", Key: "x"}, Perm(`unknown map "STS"`)},
		{Request{Map: "a\"b", Key: "x"}, Perm(`unknown map "a\"b"`)},
	}
	for _, tc := range tests {
		if got := m.Lookup(ctx, tc.req); got != tc.want {
			t.Errorf("Lookup(%+v) = %+v, want %+v", tc.req, got, tc.want)
		}
	}

	panics := func(name string, h Handler) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("Handle(%q) did not panic", name)
			}
		}()
		m.Handle(name, h)
	}
	h := HandlerFunc(func(context.Context, Request) Reply { return NotFound() })
	panics("", h)
	panics("with space", h)
	panics("sts", h) // twice
	panics("new", nil)
}
