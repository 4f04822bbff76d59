package sts

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goodRecords are valid _mta-sts TXT records and what they parse to. Also
// seeds for FuzzParseRecord.
var goodRecords = []struct {
	name string
	txt  string
	want Record
}{
	{"RFC 8461 §3.1: example record", "v=STSv1; id=20160831085700Z;", Record{Version: "STSv1", ID: "20160831085700Z"}},
	{"RFC 8461 §3.1: no spaces, no trailing delimiter", "v=STSv1;id=abc", Record{Version: "STSv1", ID: "abc"}},
	{"RFC 8461 §3.1: whitespace around later delimiters", "v=STSv1;  id=abc \t;  ", Record{Version: "STSv1", ID: "abc"}},
	{"RFC 8461 §3.1: id of 32 characters", "v=STSv1; id=" + strings.Repeat("a1", 16), Record{Version: "STSv1", ID: strings.Repeat("a1", 16)}},
	{"RFC 8461 §3.1: extension kept", "v=STSv1;\tid=abc;\text.a-b_c=x!y:<>~;", Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"ext.a-b_c", "x!y:<>~"}}}},
	{"RFC 8461 §3.1: id after an extension", "v=STSv1; foo=1; id=abc;", Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"foo", "1"}}}},
	{"RFC 8461 §3.1: second id is an extension", "v=STSv1; id=abc; id=d_e;", Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"id", "d_e"}}}},
	{"RFC 8461 §3.1: later v is an extension", "v=STSv1; id=abc; v=STSv2", Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"v", "STSv2"}}}},
	{"RFC 8461 §3.1: ID in capitals is an extension", "v=STSv1; ID=x; id=abc", Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"ID", "x"}}}},
}

func TestParseRecordGood(t *testing.T) {
	for _, tc := range goodRecords {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecord(tc.txt)
			if err != nil {
				t.Fatalf("ParseRecord(%q): %v", tc.txt, err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("ParseRecord(%q) (-want +got):\n%s", tc.txt, diff)
			}
			again, err := ParseRecord(got.String())
			if err != nil {
				t.Fatalf("ParseRecord(String() = %q): %v", got.String(), err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("round trip through %q (-first +second):\n%s", got.String(), diff)
			}
		})
	}
}

// badRecords are invalid records, the offset and field of the error, and a
// piece of its reason. Also seeds for FuzzParseRecord.
var badRecords = []struct {
	name   string
	txt    string
	offset int
	field  string
	reason string
}{
	{"RFC 8461 §3.1: empty", "", 0, "", `begin with "v=STSv1"`},
	{"RFC 8461 §3.1: other version", "v=STSv2; id=1", 0, "v", "STSv1"},
	{"RFC 8461 §3.1: version is case-sensitive", "V=STSv1; id=1", 0, "", `begin with "v=STSv1"`},
	{"RFC 8461 §3.1: longer version", "v=STSv10; id=1", 0, "v", `exactly "STSv1"`},
	{"RFC 8461 §3.1: v not first", "id=1; v=STSv1;", 0, "", "first field"},
	{"RFC 8461 §3.1: leading space", " v=STSv1; id=1", 0, "", "not whitespace"},
	{"RFC 8461 §3.1, erratum 6285: space before first ;", "v=STSv1 ; id=1", 7, "", "erratum 6285"},
	{"RFC 8461 §3.1: version only", "v=STSv1", 7, "id", "missing"},
	{"RFC 8461 §3.1: no id", "v=STSv1;", 8, "id", "missing"},
	{"RFC 8461 §3.1: only an extension", "v=STSv1; ext=1", 14, "id", "missing"},
	{"RFC 8461 §3.1: empty id", "v=STSv1; id=", 9, "id", "1 to 32"},
	{"RFC 8461 §3.1: id with underscore", "v=STSv1; id=abc_def", 9, "id", `'_'`},
	{"RFC 8461 §3.1: id of 33 characters", "v=STSv1; id=" + strings.Repeat("a", 33), 9, "id", "33 characters"},
	{"RFC 8461 §3.1: empty field", "v=STSv1; id=1;; ", 14, "", "empty field"},
	{"RFC 8461 §3.1: field without =", "v=STSv1; id=1; foo", 15, "", `no "="`},
	{"RFC 8461 §3.1: empty extension name", "v=STSv1; id=1; =x", 15, "", "is empty"},
	{"RFC 8461 §3.1: extension name starts with _", "v=STSv1; id=1; _x=1", 15, "_x", "begin with a letter"},
	{"RFC 8461 §3.1: extension name of 33 characters", "v=STSv1; id=1; " + strings.Repeat("n", 33) + "=1", 15, strings.Repeat("n", 33), "longer than 32"},
	{"RFC 8461 §3.1: = in extension value", "v=STSv1; id=1; x=a=b", 17, "x", `"="`},
	{"RFC 8461 §3.1: empty extension value", "v=STSv1; id=1; x=", 17, "x", "empty"},
	{"RFC 8461 §3.1: control character", "v=STSv1; id=1; x=a\x01b", 17, "x", "printable ASCII"},
	{"RFC 8461 §3.1: fields need ;", "v=STSv1; id=1 ext=2", 14, "", `separated by ";"`},
	{"RFC 8461 §3.1: trailing space without ;", "v=STSv1; id=1 ", 13, "", "whitespace after the last field"},
	{"RFC 8461 §3.1: US-ASCII only", "v=STSv1; id=1; x=caf\xc3\xa9", 20, "", "US-ASCII"},
}

func TestParseRecordBad(t *testing.T) {
	for _, tc := range badRecords {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecord(tc.txt)
			if err == nil {
				t.Fatalf("ParseRecord(%q) = %+v, want error", tc.txt, got)
			}
			if !errors.Is(err, ErrRecordSyntax) {
				t.Errorf("error %v is not ErrRecordSyntax", err)
			}
			var se *RecordSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *RecordSyntaxError", err)
			}
			if se.Offset != tc.offset || se.Field != tc.field || !strings.Contains(se.Reason, tc.reason) {
				t.Errorf("ParseRecord(%q) = offset %d field %q reason %q; want offset %d field %q reason containing %q",
					tc.txt, se.Offset, se.Field, se.Reason, tc.offset, tc.field, tc.reason)
			}
			if !strings.Contains(err.Error(), "RFC 8461 §3.1") {
				t.Errorf("error %q does not cite RFC 8461 §3.1", err)
			}
		})
	}
}

func TestRecordString(t *testing.T) {
	r := &Record{Version: "STSv1", ID: "abc", Extensions: []Extension{{"foo", "bar"}, {"id", "x"}}}
	if got, want := r.String(), "v=STSv1; id=abc; foo=bar; id=x;"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSelectRecord(t *testing.T) {
	tests := []struct {
		name    string
		txts    []string
		wantID  string
		wantErr []error
		notErr  []error
		msg     string
	}{
		{name: "RFC 8461 §3.1: one record", txts: []string{"v=STSv1; id=1;"}, wantID: "1"},
		{name: "RFC 8461 §3.1: other TXT records are discarded", txts: []string{"v=spf1 -all", "google-site-verification=x", "v=STSv1; id=2;"}, wantID: "2"},
		{name: "RFC 8461 §3.1: several strings joined by the DNS layer", txts: []string{"v=STSv1; " + "id=joined;"}, wantID: "joined"},
		{name: "RFC 8461 §3.1: no records", txts: nil, wantErr: []error{ErrNoRecord}, notErr: []error{ErrMultipleRecords, ErrDNS, ErrRecordSyntax}},
		{name: "RFC 8461 §3.1: no STS record", txts: []string{"v=spf1 -all"}, wantErr: []error{ErrNoRecord}, notErr: []error{ErrMultipleRecords}},
		{name: "RFC 8461 §3.1: v=STSv1 without ; is discarded", txts: []string{"v=STSv1"}, wantErr: []error{ErrNoRecord}},
		{name: "RFC 8461 §3.1: v not first is discarded", txts: []string{"id=1; v=STSv1;"}, wantErr: []error{ErrNoRecord}},
		{name: "RFC 8461 §3.1: leading space is discarded", txts: []string{" v=STSv1; id=1;"}, wantErr: []error{ErrNoRecord}},
		{name: "RFC 8461 §3.1: two records", txts: []string{"v=STSv1; id=1;", "v=STSv1; id=2;"}, wantErr: []error{ErrMultipleRecords, ErrNoRecord}, msg: "2 records"},
		{name: "RFC 8461 §3.1: two records even if one is invalid", txts: []string{"v=STSv1; id=1;", "v=STSv1;id=bad_id"}, wantErr: []error{ErrMultipleRecords, ErrNoRecord}, notErr: []error{ErrRecordSyntax}},
		{name: "RFC 8461 §3.1, erratum 6285: whitespace before ; is discarded", txts: []string{"v=STSv1 ; id=2;"}, wantErr: []error{ErrNoRecord}, msg: "whitespace"},
		{name: "RFC 8461 §3.1, erratum 6285: a discarded record does not count", txts: []string{"v=STSv1; id=1;", "v=STSv1\t;id=2"}, wantID: "1"},
		{name: "RFC 8461 §3.1: the one record is invalid", txts: []string{"v=STSv1;id=bad_id"}, wantErr: []error{ErrRecordSyntax}, notErr: []error{ErrNoRecord}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectRecord(tc.txts)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("SelectRecord(%q): %v", tc.txts, err)
				}
				if got.ID != tc.wantID {
					t.Errorf("SelectRecord(%q).ID = %q, want %q", tc.txts, got.ID, tc.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("SelectRecord(%q) = %+v, want error", tc.txts, got)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %q is not %q", err, want)
				}
			}
			for _, not := range tc.notErr {
				if errors.Is(err, not) {
					t.Errorf("error %q must not be %q", err, not)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}
