package policyhost

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuoteTXT(t *testing.T) {
	for in, want := range map[string]string{
		`v=STSv1; id=1;`:         `"v=STSv1; id=1;"`,
		`a"b\c`:                  `"a\"b\\c"`,
		strings.Repeat("x", 256): `"` + strings.Repeat("x", 255) + `" "x"`,
	} {
		if got := QuoteTXT(in); got != want {
			t.Errorf("QuoteTXT(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteZone(t *testing.T) {
	results := []DomainRecords{{Domain: "example.com", ID: "1", Records: []Record{
		{Name: "_mta-sts.example.com.", Type: "TXT", Value: "v=STSv1; id=1;", Status: StatusPublished},
		{Name: "mta-sts.example.com.", Type: "A", Value: "<address>", Status: StatusMissing, Live: []string{"192.0.2.1"}, Detail: "wrong"},
	}}}
	var b strings.Builder
	if err := WriteZone(&b, 300, results); err != nil {
		t.Fatal(err)
	}
	want := "; example.com: policy id 1\n" +
		"_mta-sts.example.com.\t300\tIN\tTXT\t\"v=STSv1; id=1;\"\t; published\n" +
		"; mta-sts.example.com.\t300\tIN\tA\t<address>\t; missing; DNS has 192.0.2.1; wrong\n" +
		"\n; 1 of 2 records published. Publish the policy host first, then the _mta-sts record: senders fetch the policy as soon as they see it.\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}
