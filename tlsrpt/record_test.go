package tlsrpt

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordSummary flattens a Record for comparison: the canonical URIs, their
// decoded addresses or hosts, and the extensions.
type recordSummary struct {
	RUA        []string
	Targets    []string
	Extensions []Extension
}

func summarize(r *Record) recordSummary {
	var s recordSummary
	for _, u := range r.RUA {
		s.RUA = append(s.RUA, u.String())
		switch {
		case u.IsMailto():
			s.Targets = append(s.Targets, "mail:"+strings.Join(u.Addresses(), "+"))
		case u.IsHTTPS():
			s.Targets = append(s.Targets, "post:"+u.URL.Host+u.URL.Path)
		}
	}
	s.Extensions = r.Extensions
	return s
}

var goodRecords = []struct {
	name      string
	txt       string
	want      recordSummary
	canonical string
}{
	{
		name:      "RFC 8460 §3 mailto",
		txt:       "v=TLSRPTv1;rua=mailto:reports@example.com",
		want:      recordSummary{RUA: []string{"mailto:reports@example.com"}, Targets: []string{"mail:reports@example.com"}},
		canonical: "v=TLSRPTv1; rua=mailto:reports@example.com",
	},
	{
		name:      "RFC 8460 §3 https",
		txt:       "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
		want:      recordSummary{RUA: []string{"https://reporting.example.com/v1/tlsrpt"}, Targets: []string{"post:reporting.example.com/v1/tlsrpt"}},
		canonical: "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
	},
	{
		name: "RFC 8460 §3 two URIs with spaces around the comma",
		txt:  "v=TLSRPTv1 ;\trua=mailto:a@example.com , https://r.example.com/tlsrpt ;",
		want: recordSummary{
			RUA:     []string{"mailto:a@example.com", "https://r.example.com/tlsrpt"},
			Targets: []string{"mail:a@example.com", "post:r.example.com/tlsrpt"},
		},
		canonical: "v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/tlsrpt",
	},
	{
		name: "RFC 8460 §3 encoded comma and semicolon are decoded",
		txt:  "v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com,https://r.example.com/a%3Bb%2Cc?x=1%2C2",
		want: recordSummary{
			RUA:     []string{"mailto:a@example.com%2Cb@example.com", "https://r.example.com/a%3Bb%2Cc?x=1%2C2"},
			Targets: []string{"mail:a@example.com+b@example.com", "post:r.example.com/a;b,c"},
		},
		canonical: "v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com,https://r.example.com/a%3Bb%2Cc?x=1%2C2",
	},
	{
		name: "RFC 8460 §3 encoded exclamation mark",
		txt:  "v=TLSRPTv1; rua=mailto:bang%21@example.com",
		want: recordSummary{
			RUA:     []string{"mailto:bang%21@example.com"},
			Targets: []string{"mail:bang!@example.com"},
		},
		canonical: "v=TLSRPTv1; rua=mailto:bang%21@example.com",
	},
	{
		name: "RFC 8460 §3 extensions are kept in order",
		txt:  "v=TLSRPTv1; ext.one=x:y/z; rua=mailto:a@example.com; 2nd_ext-=42",
		want: recordSummary{
			RUA:        []string{"mailto:a@example.com"},
			Targets:    []string{"mail:a@example.com"},
			Extensions: []Extension{{"ext.one", "x:y/z"}, {"2nd_ext-", "42"}},
		},
		canonical: "v=TLSRPTv1; rua=mailto:a@example.com; ext.one=x:y/z; 2nd_ext-=42",
	},
	{
		name: "RFC 8460 §3 scheme is case-insensitive (RFC 3986 §3.1)",
		txt:  "v=TLSRPTv1; rua=MAILTO:a@example.com,HTTPS://R.example.com",
		want: recordSummary{
			RUA:     []string{"mailto:a@example.com", "https://R.example.com"},
			Targets: []string{"mail:a@example.com", "post:R.example.com"},
		},
		canonical: "v=TLSRPTv1; rua=mailto:a@example.com,https://R.example.com",
	},
	{
		name: "RFC 8460 §3 https with port, query and fragment",
		txt:  "v=TLSRPTv1; rua=https://r.example.com:8443/in?d=example.com#x",
		want: recordSummary{
			RUA:     []string{"https://r.example.com:8443/in?d=example.com#x"},
			Targets: []string{"post:r.example.com:8443/in"},
		},
		canonical: "v=TLSRPTv1; rua=https://r.example.com:8443/in?d=example.com#x",
	},
}

var badRecords = []struct {
	name  string
	txt   string
	field string
	msg   string // substring of the error message
}{
	{"RFC 8460 §3 empty", "", "v", "must be the first field"},
	{"RFC 8460 §3 v not first", "rua=mailto:a@example.com; v=TLSRPTv1", "v", "must be the first field"},
	{"RFC 8460 §3 leading space", " v=TLSRPTv1; rua=mailto:a@example.com", "v", "must be the first field"},
	{"RFC 8460 §3 version is case-sensitive", "v=tlsrptv1; rua=mailto:a@example.com", "v", `v "tlsrptv1" is not TLSRPTv1`},
	{"RFC 8460 §3 other version", "v=TLSRPTv2; rua=mailto:a@example.com", "v", "is not TLSRPTv1"},
	{"RFC 8460 §3 no rua", "v=TLSRPTv1", "rua", "rua is missing"},
	{"RFC 8460 §3 semicolon after version", "v=TLSRPTv1 rua=mailto:a@example.com", "v", `is not followed by ";"`},
	{"RFC 8460 §3 no rua, only extension", "v=TLSRPTv1; x=y", "rua", "rua is missing"},
	{"RFC 8460 §3 rua is case-sensitive", "v=TLSRPTv1; RUA=mailto:a@example.com", "rua", `found "RUA"`},
	{"RFC 8460 §3 rua twice", "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", "rua", "more than once"},
	{"RFC 8460 §3 empty rua", "v=TLSRPTv1; rua=", "rua", "empty URI"},
	{"RFC 8460 §3 empty URI in list", "v=TLSRPTv1; rua=mailto:a@example.com,", "rua", "empty URI"},
	{"RFC 8460 §3 ftp scheme", "v=TLSRPTv1; rua=ftp://x", "rua", `tlsrpt record: rua "ftp://x" is not a mailto: or https: URI (RFC 8460 §3)`},
	{"RFC 8460 §3 http is not https", "v=TLSRPTv1; rua=http://r.example.com/", "rua", "not a mailto: or https: URI"},
	{"RFC 8460 §3 no scheme", "v=TLSRPTv1; rua=a@example.com", "rua", "not a mailto: or https: URI"},
	{"RFC 8460 §3 mailto without address", "v=TLSRPTv1; rua=mailto:", "rua", "valid address"},
	{"RFC 8460 §3 mailto without domain", "v=TLSRPTv1; rua=mailto:tlsrpt", "rua", "valid address"},
	{"RFC 8460 §3 mailto with only a domain", "v=TLSRPTv1; rua=mailto:@example.com", "rua", "valid address"},
	{"RFC 8460 §3 mailto with authority", "v=TLSRPTv1; rua=mailto://a@example.com", "rua", "valid address"},
	{"RFC 8460 §3 https without host", "v=TLSRPTv1; rua=https:///path", "rua", "with a host"},
	{"RFC 8460 §3 https opaque", "v=TLSRPTv1; rua=https:r.example.com", "rua", "with a host"},
	{"RFC 8460 §3 literal exclamation mark", "v=TLSRPTv1; rua=mailto:a!b@example.com", "rua", "%21"},
	{"RFC 8460 §3 bad percent-encoding", "v=TLSRPTv1; rua=mailto:a%2@example.com", "rua", "two hex digits"},
	{"RFC 8460 §3 space inside URI", "v=TLSRPTv1; rua=https://r.example.com/a b", "rua", `' '`},
	{"RFC 8460 §3 space after rua=", "v=TLSRPTv1; rua= mailto:a@example.com", "rua", `' '`},
	{"RFC 8460 §3 URIs separated by space only", "v=TLSRPTv1; rua=mailto:a@example.com mailto:b@example.com", "rua", `' '`},
	{"RFC 8460 §3 empty field", "v=TLSRPTv1;; rua=mailto:a@example.com", "record", "empty field"},
	{"RFC 8460 §3 field without =", "v=TLSRPTv1; rua=mailto:a@example.com; junk", "field", "name=value"},
	{"RFC 8460 §3 extension name with bad character", "v=TLSRPTv1; rua=mailto:a@example.com; a/b=c", "extension", "valid field name"},
	{"RFC 8460 §3 extension name starting with _", "v=TLSRPTv1; rua=mailto:a@example.com; _a=c", "extension", "valid field name"},
	{"RFC 8460 §3 extension name too long", "v=TLSRPTv1; rua=mailto:a@example.com; " + strings.Repeat("a", 33) + "=c", "extension", "valid field name"},
	{"RFC 8460 §3 extension value empty", "v=TLSRPTv1; rua=mailto:a@example.com; a=", "a", "empty value"},
	{"RFC 8460 §3 extension value with =", "v=TLSRPTv1; rua=mailto:a@example.com; a=b=c", "a", `"="`},
	{"RFC 8460 §3 extension value with space", "v=TLSRPTv1; rua=mailto:a@example.com; a=b c", "a", "space"},
	{"RFC 8460 §3 US-ASCII only", "v=TLSRPTv1; rua=mailto:jörg@example.com", "record", "US-ASCII"},
	{"RFC 8460 §3 no control characters", "v=TLSRPTv1; rua=mailto:a@example.com\n", "record", "0x0a"},
}

func TestParseRecord(t *testing.T) {
	for _, tc := range goodRecords {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := ParseRecord(tc.txt)
			if err != nil {
				t.Fatalf("ParseRecord(%q): %v", tc.txt, err)
			}
			if rec.Version != Version {
				t.Errorf("Version = %q", rec.Version)
			}
			if diff := cmp.Diff(tc.want, summarize(rec)); diff != "" {
				t.Errorf("ParseRecord(%q) (-want +got):\n%s", tc.txt, diff)
			}
			if got := rec.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
		})
	}
}

func TestParseRecordErrors(t *testing.T) {
	for _, tc := range badRecords {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := ParseRecord(tc.txt)
			if err == nil {
				t.Fatalf("ParseRecord(%q) = %v, want error", tc.txt, rec)
			}
			if !errors.Is(err, ErrRecordSyntax) {
				t.Errorf("error %v is not ErrRecordSyntax", err)
			}
			var se *RecordSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *RecordSyntaxError", err)
			}
			if se.Field != tc.field {
				t.Errorf("Field = %q, want %q (error %v)", se.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if !strings.HasSuffix(err.Error(), "(RFC 8460 §3)") {
				t.Errorf("error %q does not cite the RFC", err)
			}
		})
	}
}

func TestRecordStringFromParts(t *testing.T) {
	// RFC 8460 §3: a record built in code still prints ",", ";" and "!"
	// percent-encoded, so it parses back to the same destinations.
	u, err := ParseRecord("v=TLSRPTv1; rua=https://r.example.com/x")
	if err != nil {
		t.Fatal(err)
	}
	u.RUA[0].URL.RawQuery = "a=1,2;3!"
	u.Extensions = []Extension{{"x", "y"}}
	got := u.String()
	want := "v=TLSRPTv1; rua=https://r.example.com/x?a=1%2C2%3B3%21; x=y"
	if got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	back, err := ParseRecord(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != want {
		t.Errorf("re-parsed String() = %q", back.String())
	}
	if (&Record{}).String() != "v=TLSRPTv1" {
		t.Errorf("zero Record String() = %q", (&Record{}).String())
	}
}

func TestSelectRecord(t *testing.T) {
	const good = "v=TLSRPTv1; rua=mailto:a@example.com"
	tests := []struct {
		name    string
		txts    []string
		wantErr error
		notErr  error
	}{
		{"RFC 8460 §3 one record among others", []string{"v=spf1 -all", good, "google-site-verification=x"}, nil, nil},
		{"RFC 8460 §3 no records", nil, ErrNoRecord, ErrMultipleRecords},
		{"RFC 8460 §3 only unrelated records", []string{"v=spf1 -all", "v=STSv1; id=1"}, ErrNoRecord, ErrMultipleRecords},
		{"RFC 8460 §3 prefix must be a whole field", []string{"v=TLSRPTv10; rua=mailto:a@example.com"}, ErrNoRecord, nil},
		{"RFC 8460 §3 version is case-sensitive", []string{"v=tlsrptv1; rua=mailto:a@example.com"}, ErrNoRecord, nil},
		{"RFC 8460 §3 multiple records: no reporting", []string{good, "v=TLSRPTv1; rua=mailto:b@example.com"}, ErrMultipleRecords, nil},
		{"RFC 8460 §3 multiple records, one invalid", []string{good, "v=TLSRPTv1"}, ErrNoRecord, ErrRecordSyntax},
		{"RFC 8460 §3 the one record is invalid", []string{"v=TLSRPTv1 ; rua=ftp://x", "v=spf1"}, ErrRecordSyntax, ErrNoRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := SelectRecord(tc.txts)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("SelectRecord: %v", err)
				}
				if rec.String() != good {
					t.Errorf("SelectRecord = %q", rec)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("SelectRecord error = %v, want %v", err, tc.wantErr)
			}
			if tc.notErr != nil && errors.Is(err, tc.notErr) {
				t.Errorf("SelectRecord error %v also matches %v", err, tc.notErr)
			}
		})
	}
	if !errors.Is(ErrMultipleRecords, ErrNoRecord) {
		t.Error("ErrMultipleRecords does not match ErrNoRecord")
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, tc := range goodRecords {
		f.Add(tc.txt)
	}
	for _, tc := range badRecords {
		f.Add(tc.txt)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		rec, err := ParseRecord(txt)
		if err != nil {
			if !errors.Is(err, ErrRecordSyntax) {
				t.Fatalf("ParseRecord(%q) error %v is not ErrRecordSyntax", txt, err)
			}
			return
		}
		s := rec.String()
		back, err := ParseRecord(s)
		if err != nil {
			t.Fatalf("ParseRecord(%q) ok, but its String %q does not parse: %v", txt, s, err)
		}
		if diff := cmp.Diff(summarize(rec), summarize(back)); diff != "" {
			t.Fatalf("round trip of %q through %q changed it (-first +second):\n%s", txt, s, diff)
		}
		if s2 := back.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
	})
}
