package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpReport compares Reports: addresses by value, nil and empty slices
// alike (time.Time compares with its Equal method).
var cmpReport = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// diagKeys reduces diagnostics to "code@path" for comparison.
func diagKeys(diags []Diagnostic) []string {
	var keys []string
	for _, d := range diags {
		keys = append(keys, string(d.Code)+"@"+d.Path)
	}
	return keys
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "reports", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseBytes(t testing.TB, data []byte) (*Report, []Diagnostic) {
	t.Helper()
	rep, diags, err := Parse(bytes.NewReader(data), ParseOptions{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rep, diags
}

// Every tolerated deviation has a fixture in testdata/reports, written for
// this package from RFC 8460 §4 (not copied from any sender).
var fixtureDiagnostics = map[string][]string{
	"clean.json":                                 nil,
	"time-offset.json":                           nil, // RFC 3339 with a non-zero offset is fine
	"byte-order-mark.json":                       {"byte-order-mark@"},
	"contact-info-null.json":                     {"missing-field@contact-info"},
	"contact-info-and-organization-missing.json": {"missing-field@organization-name", "missing-field@contact-info"},
	"empty-policies.json":                        {"no-policies@policies"},
	"end-next-midnight.json":                     {"end-at-next-midnight@date-range.end-datetime"},
	"failure-count-mismatch.json":                {"failure-count-mismatch@policies[0].summary.total-failure-session-count"},
	"invalid-ips.json": {
		"invalid-ip@policies[0].failure-details[0].sending-mta-ip",
		"invalid-ip@policies[0].failure-details[0].receiving-ip",
	},
	"missing-ips.json": {
		"missing-ip@policies[0].failure-details[0].sending-mta-ip",
		"missing-ip@policies[0].failure-details[0].receiving-ip",
		"missing-ip@policies[0].failure-details[1].sending-mta-ip",
		"missing-ip@policies[0].failure-details[1].receiving-ip",
		// details [2] and [3] are sts-policy-fetch-error and
		// sts-webpki-invalid: no session to the MX, so no receiving-ip.
	},
	"missing-members.json": {
		"missing-field@policies[0].summary",
		"missing-field@policies[1].policy",
		"missing-field@policies[2].policy.policy-type",
		"missing-field@policies[2].failure-details[0].result-type",
	},
	"mx-host-prefixed.json": {
		"mx-host-prefixed@policies[0].policy.mx-host[0]",
		"mx-host-prefixed@policies[0].policy.mx-host[1]",
	},
	"mx-host-string.json":                 {"mx-host-string@policies[0].policy.mx-host"},
	"negative-count.json":                 {"negative-count@policies[0].summary.total-successful-session-count"},
	"no-policy-found-without-domain.json": {"missing-field@policies[0].policy.policy-domain"},
	"policy-string-encoded.json": {
		"policy-string-encoded@policies[0].policy.policy-string",
		"policy-string-encoded@policies[1].policy.policy-string",
	},
	// policies[1] is no-policy-found, which has no policy-string.
	"policy-string-missing.json": {"missing-field@policies[0].policy.policy-string"},
	"policy-string-string.json":  {"policy-string-string@policies[0].policy.policy-string"},
	"range-inverted.json":        {"range-inverted@date-range"},
	"range-not-one-day.json":     {"range-not-one-day@date-range"},
	"time-nonstandard.json": {
		"time-nonstandard@date-range.start-datetime",
		"time-nonstandard@date-range.end-datetime",
	},
	"time-without-zone.json": {
		"time-without-zone@date-range.start-datetime",
		"time-without-zone@date-range.end-datetime",
	},
	"unknown-types.json": {
		"unknown-policy-type@policies[0].policy.policy-type",
		"unknown-result-type@policies[0].failure-details[0].result-type",
	},
	"wrong-types.json": {
		"wrong-type@policies[0].policy.policy-string",
		"wrong-type@policies[0].policy.mx-host",
	},
}

// Reports Parse refuses, with the path of the error (RFC 8460 §4.4).
var fixtureErrors = map[string]string{
	"error-not-json.txt":       "",
	"error-truncated.json":     "",
	"error-array.json":         "",
	"error-no-identity.json":   "",
	"error-no-policies.json":   "policies",
	"error-null-policies.json": "policies",
	"error-no-date-range.json": "date-range",
	"error-bad-date.json":      "date-range.start-datetime",
	"error-empty-date.json":    "date-range.end-datetime",
	"error-count-string.json":  "policies.summary.total-successful-session-count",
	// Counts over MaxSessionCount, such as the 2^63-1 that once broke
	// every sum of the store.
	"error-count-too-large.json":   "policies[0].failure-details[0].failed-session-count",
	"error-summary-too-large.json": "policies[0].summary.total-successful-session-count",
}

func TestParseFixtures(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "reports", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		want, ok := fixtureDiagnostics[name]
		if _, isErr := fixtureErrors[name]; isErr {
			continue
		}
		if !ok {
			t.Errorf("fixture %s is in neither fixtureDiagnostics nor fixtureErrors", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			_, diags := parseBytes(t, readFixture(t, name))
			if diff := cmp.Diff(want, diagKeys(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			for _, d := range diags {
				if d.Message == "" || !strings.Contains(d.String(), "["+string(d.Code)+"]") {
					t.Errorf("diagnostic %#v renders as %q", d, d)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for name, path := range fixtureErrors {
		t.Run(name, func(t *testing.T) {
			rep, diags, err := Parse(bytes.NewReader(readFixture(t, name)), ParseOptions{})
			if err == nil {
				t.Fatalf("Parse = %+v, %v; want error", rep, diags)
			}
			if !errors.Is(err, ErrReportSyntax) {
				t.Errorf("error %v does not match ErrReportSyntax", err)
			}
			var re *ReportError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not *ReportError", err)
			}
			if re.Path != path {
				t.Errorf("Path = %q, want %q (%v)", re.Path, path, err)
			}
			if !strings.HasPrefix(err.Error(), "tlsrpt report: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestParseClean checks every member of a report shaped as RFC 8460 §4.4
// describes.
func TestParseClean(t *testing.T) {
	rep, diags := parseBytes(t, readFixture(t, "clean.json"))
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	want := &Report{
		OrganizationName: "Sender Org",
		DateRange:        DateRange{Start: day, End: day.Add(24*time.Hour - time.Second)},
		ContactInfo:      "tlsrpt-admin@sender.example",
		ReportID:         "2024-05-01_example.net_0001",
		Policies: []PolicyResult{
			{
				Policy: Policy{
					Type:    PolicySTS,
					Strings: []string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "mx: *.backup.example.net", "max_age: 604800"},
					Domain:  "example.net",
					MXHosts: []string{"mx1.example.net", "*.backup.example.net"},
				},
				Summary: Summary{Successful: 40, Failed: 7},
				FailureDetails: []FailureDetail{
					{
						ResultType:            ResultCertificateExpired,
						SendingMTAIP:          netip.MustParseAddr("192.0.2.10"),
						ReceivingMXHostname:   "mx1.example.net",
						ReceivingMXHelo:       "mx1.example.net",
						ReceivingIP:           netip.MustParseAddr("198.51.100.25"),
						FailedSessionCount:    5,
						AdditionalInformation: "https://sender.example/tlsrpt/help#expired",
						FailureReasonCode:     "X509_V_ERR_CERT_HAS_EXPIRED",
					},
					{
						ResultType:          ResultSTARTTLSNotSupported,
						SendingMTAIP:        netip.MustParseAddr("2001:db8:5::1"),
						ReceivingMXHostname: "mx2.backup.example.net",
						ReceivingIP:         netip.MustParseAddr("2001:db8:77::25"),
						FailedSessionCount:  2,
					},
				},
			},
			{
				Policy: Policy{
					Type: PolicyTLSA,
					Strings: []string{
						"3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
						"2 1 1 8D02536C887482BC34FF54E41D2BA659BF85B341A0A20AFADB5813DCFBCF286D",
					},
					Domain:  "example.net",
					MXHosts: []string{"mx1.example.net"},
				},
				Summary: Summary{Successful: 12, Failed: 1},
				FailureDetails: []FailureDetail{{
					ResultType:          ResultTLSAInvalid,
					SendingMTAIP:        netip.MustParseAddr("192.0.2.11"),
					ReceivingMXHostname: "mx1.example.net",
					ReceivingIP:         netip.MustParseAddr("198.51.100.25"),
					FailedSessionCount:  1,
				}},
			},
			{
				Policy:  Policy{Type: PolicyNoPolicyFound, Domain: "example.net"},
				Summary: Summary{Successful: 3},
			},
		},
	}
	if diff := cmp.Diff(want, rep, cmpReport...); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if got := rep.Totals(); got != (Summary{Successful: 55, Failed: 8}) {
		t.Errorf("Totals = %+v", got)
	}
}

// TestParseTolerance checks how tolerated deviations are read, not only
// that they are noticed.
func TestParseTolerance(t *testing.T) {
	hosts := []string{"mx1.example.net", "*.backup.example.net"}
	lines := []string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "mx: *.backup.example.net", "max_age: 604800"}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		file  string
		check func(*Report) any // returns the value to compare
		want  any
	}{
		{"mx-host-string.json", func(r *Report) any { return r.Policies[0].Policy.MXHosts }, []string{"mx1.example.net"}},
		{"mx-host-prefixed.json", func(r *Report) any { return r.Policies[0].Policy.MXHosts }, hosts},
		{"policy-string-string.json", func(r *Report) any { return r.Policies[0].Policy.Strings }, lines},
		{"policy-string-encoded.json", func(r *Report) any {
			return []int{len(r.Policies[0].Policy.Strings), len(r.Policies[1].Policy.Strings)}
		}, []int{2, 1}},
		{"time-without-zone.json", func(r *Report) any { return r.DateRange.Start }, day},
		{"time-nonstandard.json", func(r *Report) any { return r.DateRange.End }, day.Add(24*time.Hour - time.Second)},
		{"time-offset.json", func(r *Report) any { return r.DateRange }, DateRange{Start: day, End: day.Add(24*time.Hour - time.Second)}},
		{"end-next-midnight.json", func(r *Report) any { d, _ := r.DateRange.Day(); return d }, day},
		{"unknown-types.json", func(r *Report) any {
			return []string{string(r.Policies[0].Policy.Type), string(r.Policies[0].FailureDetails[0].ResultType)}
		}, []string{"dane-ng", "mx-mismatch"}},
		{"failure-count-mismatch.json", func(r *Report) any { return r.Policies[0].Summary.Failed }, int64(2)},
		{"negative-count.json", func(r *Report) any { return r.Policies[0].Summary.Successful }, int64(0)},
		{"invalid-ips.json", func(r *Report) any { return r.Policies[0].FailureDetails[0].SendingMTAIP.IsValid() }, false},
		{"contact-info-null.json", func(r *Report) any { return r.ContactInfo }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rep, _ := parseBytes(t, readFixture(t, tc.file))
			if diff := cmp.Diff(tc.want, tc.check(rep)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// RFC 8460 §5.2: reports are usually gzipped; Parse recognises gzip by its
// magic number whatever the media type said.
func TestParseGzip(t *testing.T) {
	plain := readFixture(t, "clean.json")
	want, _ := parseBytes(t, plain)
	got, diags := parseBytes(t, gzipBytes(t, plain))
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	if diff := cmp.Diff(want, got, cmpReport...); diff != "" {
		t.Errorf("gzipped report differs (-plain +gzip):\n%s", diff)
	}

	z := gzipBytes(t, plain)
	for name, data := range map[string][]byte{
		"truncated":  z[:len(z)/2],
		"bad crc":    append(append([]byte{}, z[:len(z)-8]...), 0, 0, 0, 0, 0, 0, 0, 0),
		"bad header": {0x1f, 0x8b, 0x63, 0, 0, 0, 0, 0, 0, 0},
		"corrupt deflate": append(append([]byte{}, z[:10]...),
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse(bytes.NewReader(data), ParseOptions{})
			if !errors.Is(err, ErrReportSyntax) {
				t.Errorf("Parse error = %v, want ErrReportSyntax", err)
			}
		})
	}
}

func TestParseSizeCap(t *testing.T) {
	plain := readFixture(t, "clean.json")
	small := ParseOptions{MaxSize: int64(len(plain)) - 1}
	if _, _, err := Parse(bytes.NewReader(plain), small); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("plain over the cap: error = %v, want ErrReportTooLarge", err)
	}
	if _, _, err := Parse(bytes.NewReader(gzipBytes(t, plain)), small); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("gzip over the cap: error = %v, want ErrReportTooLarge", err)
	}
	if _, _, err := Parse(bytes.NewReader(plain), ParseOptions{MaxSize: int64(len(plain))}); err != nil {
		t.Errorf("report exactly at the cap: %v", err)
	}

	// A gzip bomb: a few KiB that inflate past DefaultMaxSize. Parse must
	// stop at the cap rather than inflate it all.
	bomb := bytes.NewBufferString(`{"report-id":"x","policies":[],"organization-name":"`)
	bomb.Write(bytes.Repeat([]byte("a"), DefaultMaxSize))
	bomb.WriteString(`"}`)
	z := gzipBytes(t, bomb.Bytes())
	if len(z) > 1<<20 {
		t.Fatalf("bomb compresses to %d bytes", len(z))
	}
	r := &countingReader{r: bytes.NewReader(z)}
	if _, _, err := Parse(r, ParseOptions{}); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("gzip bomb: error = %v, want ErrReportTooLarge", err)
	}

	// A stream of input that never ends is cut off too.
	if _, _, err := Parse(io.MultiReader(strings.NewReader("["), endless{}), ParseOptions{MaxSize: 1 << 16}); !errors.Is(err, ErrReportTooLarge) {
		t.Errorf("endless input: error = %v, want ErrReportTooLarge", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestParseReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := Parse(io.MultiReader(strings.NewReader("{"), errReader{boom}), ParseOptions{})
	if !errors.Is(err, boom) || errors.Is(err, ErrReportSyntax) {
		t.Errorf("error = %v, want the reader's error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestDateRangeDay(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		start time.Time
		end   time.Time
		ok    bool
	}{
		{"RFC 8460 §4.1 ends 23:59:59", day, day.Add(24*time.Hour - time.Second), true},
		{"RFC 8460 §4.1 ends at next midnight", day, day.Add(24 * time.Hour), true},
		{"RFC 8460 §4.1 ends 23:59:59.999", day, day.Add(24*time.Hour - time.Millisecond), true},
		{"RFC 8460 §4.1 offset start", day.In(time.FixedZone("x", 7200)), day.Add(24*time.Hour - time.Second), true},
		{"RFC 8460 §4.1 starts after midnight", day.Add(time.Hour), day.Add(24*time.Hour - time.Second), false},
		{"RFC 8460 §4.1 two days", day, day.Add(48*time.Hour - time.Second), false},
		{"RFC 8460 §4.1 half a day", day, day.Add(12 * time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DateRange{Start: tc.start, End: tc.end}.Day()
			if ok != tc.ok || (ok && !got.Equal(day)) {
				t.Errorf("Day() = %v, %v; want %v, %v", got, ok, day, tc.ok)
			}
		})
	}
}

func TestEnums(t *testing.T) {
	// RFC 8460 §4.3 and the IANA registry: eleven result types.
	if len(ResultTypes) != 11 {
		t.Errorf("%d result types", len(ResultTypes))
	}
	for _, rt := range ResultTypes {
		if !rt.Known() {
			t.Errorf("%s not Known", rt)
		}
	}
	if ResultType("mx-mismatch").Known() || PolicyType("dane").Known() {
		t.Error("unregistered value Known")
	}
	for _, pt := range []PolicyType{PolicySTS, PolicyTLSA, PolicyNoPolicyFound} {
		if !pt.Known() {
			t.Errorf("%s not Known", pt)
		}
	}
}

// addFileSeeds seeds f with the files matching pattern.
func addFileSeeds(f *testing.F, pattern string) {
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds in %s: %v", pattern, err)
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzParse(f *testing.F) {
	addFileSeeds(f, filepath.Join("testdata", "reports", "*"))
	f.Add(gzipBytes(f, readFixture(f, "clean.json")))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, _, err := Parse(bytes.NewReader(data), ParseOptions{MaxSize: 1 << 20})
		if err != nil {
			if rep != nil {
				t.Fatal("report and error both returned")
			}
			return
		}
		// Whatever Parse accepts renders and parses back to the same
		// report, in the RFC's form.
		checkRoundTrip(t, rep)
	})
}
