package tlsrpt

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseFilename checks that ParseFilename never panics, that what it
// accepts has the parts RFC 8460 §5.1 requires, and that the name
// FilenameFor makes of them is read back with the same period.
func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{
		"google.com!example.com!1533081600!1533167999.json.gz",
		"mail.example!example.com!1533081600!1533167999!abc123.json",
		"a!b!0!0.JSON.GZ",
		"a!b!1!2!.json",
		"!b!1!2.json",
		"a!b!99999999999999999999!1.json",
		"a!b!-1!2.json",
		"a.json.gz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fn, err := ParseFilename(name)
		if err != nil {
			if !strings.Contains(err.Error(), "RFC 8460 §5.1") {
				t.Errorf("error without its rule: %v", err)
			}
			return
		}
		if fn.Submitter == "" || fn.PolicyDomain == "" || strings.Contains(fn.Submitter+fn.PolicyDomain+fn.Unique, "!") {
			t.Fatalf("%q: parts %+v", name, fn)
		}
		if fn.Begin.Location() != time.UTC || fn.End.Location() != time.UTC {
			t.Errorf("%q: times not in UTC: %v %v", name, fn.Begin, fn.End)
		}
		again := FilenameFor(fn.Submitter, fn.PolicyDomain, fn.Begin, fn.End, fn.Unique)
		fn2, err := ParseFilename(again)
		if err != nil {
			// FilenameFor drops what cannot stand in a domain name; a
			// name of nothing else has nothing left to read back.
			if filenameDomain(fn.Submitter) != "" && filenameDomain(fn.PolicyDomain) != "" {
				t.Fatalf("%q rendered as %q, which does not parse: %v", name, again, err)
			}
			return
		}
		if !fn2.Begin.Equal(fn.Begin) || !fn2.End.Equal(fn.End) || !fn2.Gzip {
			t.Errorf("%q rendered as %q, read back as %+v", name, again, fn2)
		}
	})
}
