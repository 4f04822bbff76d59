package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// formDiagnostics are about the form of the JSON; Render never causes them.
var formDiagnostics = map[DiagnosticCode]bool{
	DiagByteOrderMark:       true,
	DiagWrongType:           true,
	DiagMXHostString:        true,
	DiagMXHostPrefixed:      true,
	DiagPolicyStringEncoded: true,
	DiagPolicyStringString:  true,
	DiagTimeNoZone:          true,
	DiagTimeNonstandard:     true,
	DiagNegativeCount:       true,
	DiagInvalidIP:           true,
}

// TestRenderMatchesRFC checks that Render writes the members of RFC 8460
// §4.4 with their own names: a report that already follows the RFC comes
// out as the same JSON.
func TestRenderMatchesRFC(t *testing.T) {
	in := readFixture(t, "clean.json")
	rep, _ := parseBytes(t, in)
	out, err := Render(rep)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Render (-fixture +rendered):\n%s", diff)
	}
}

// TestRenderRepairs checks that a report read with tolerance renders in the
// RFC's form and reads back the same.
func TestRenderRepairs(t *testing.T) {
	for name := range fixtureDiagnostics {
		t.Run(name, func(t *testing.T) {
			rep, _ := parseBytes(t, readFixture(t, name))
			checkRoundTrip(t, rep)
		})
	}
}

// checkRoundTrip renders rep and parses it back: nothing may change, and
// the JSON must be in the RFC's form.
func checkRoundTrip(t testing.TB, rep *Report) {
	t.Helper()
	out, err := Render(rep)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	back, diags, err := Parse(bytes.NewReader(out), ParseOptions{})
	if err != nil {
		t.Fatalf("rendered report does not parse: %v\n%s", err, out)
	}
	if diff := cmp.Diff(rep, back, cmpReport...); diff != "" {
		t.Errorf("round trip (-parsed +re-parsed):\n%s", diff)
	}
	for _, d := range diags {
		if formDiagnostics[d.Code] {
			t.Errorf("rendered report has diagnostic %s:\n%s", d, out)
		}
	}
}

func TestRenderShape(t *testing.T) {
	rep, _ := parseBytes(t, readFixture(t, "mx-host-string.json"))
	rep.DateRange.Start = rep.DateRange.Start.In(time.FixedZone("CEST", 2*3600))
	out, err := Render(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"mx-host":["mx1.example.net"]`,           // erratum 6241: an array
		`"start-datetime":"2024-05-01T00:00:00Z"`, // RFC 3339 in UTC
		`"total-successful-session-count":40`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("rendered report lacks %s:\n%s", want, out)
		}
	}
	for _, absent := range []string{`"failure-details"`, `"receiving-ip"`} {
		if bytes.Contains(out, []byte(absent)) {
			t.Errorf("rendered report has empty optional member %s:\n%s", absent, out)
		}
	}

	// Through encoding/json too.
	viaJSON, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaJSON, out) {
		t.Errorf("json.Marshal differs from Render:\n%s\n%s", viaJSON, out)
	}
	var back Report
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, &back, cmpReport...); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"report-id":"x"}`), &back); err == nil {
		t.Error("json.Unmarshal of a report without date-range succeeded")
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := Render(nil); err == nil {
		t.Error("Render(nil) succeeded")
	}
	if _, err := Render(&Report{ReportID: "x"}); err == nil {
		t.Error("Render without date range succeeded")
	}
	if _, err := RenderGzip(&Report{}); err == nil {
		t.Error("RenderGzip without date range succeeded")
	}
}

// RFC 8460 §5.2: gzip for both mail and HTTPS.
func TestRenderGzip(t *testing.T) {
	rep, _ := parseBytes(t, readFixture(t, "clean.json"))
	z, err := RenderGzip(rep)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Render(rep)
	if !bytes.Equal(plain, want) {
		t.Errorf("RenderGzip does not inflate to Render")
	}
	back, _ := parseBytes(t, z)
	if diff := cmp.Diff(rep, back, cmpReport...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFilenameFor(t *testing.T) {
	begin := time.Date(2016, 8, 1, 1, 0, 7, 0, time.UTC)
	end := begin.Add(48 * time.Hour)
	tests := []struct {
		name                      string
		submitter, domain, unique string
		want                      string
	}{
		{"RFC 8460 §5.1 with unique-id", "mail.sender.example.com", "example.net", "001",
			"mail.sender.example.com!example.net!1470013207!1470186007!001.json.gz"},
		{"RFC 8460 §5.1 without unique-id", "sender.example", "example.net", "",
			"sender.example!example.net!1470013207!1470186007.json.gz"},
		{"RFC 8460 §5.1 unique-id is letters and digits", "sender.example", "example.net", "a-1_b/2",
			"sender.example!example.net!1470013207!1470186007!a1b2.json.gz"},
		{"RFC 8460 §5.1 domains lower-case, no trailing dot, nothing unsafe", "Sender.Example.", "../Ex!ample.NET", "",
			"sender.example!..example.net!1470013207!1470186007.json.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FilenameFor(tc.submitter, tc.domain, begin, end, tc.unique)
			if got != tc.want {
				t.Errorf("FilenameFor = %q, want %q", got, tc.want)
			}
			if strings.ContainsAny(got, "/\\") || filepath.Base(got) != got {
				t.Errorf("FilenameFor = %q is not a plain file name", got)
			}
		})
	}
}
