package tlsrpt

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/internal/testenv/corpus"
)

// corpusDir is the shared corpus of real-world reports (see its
// SOURCES.md), which lives outside the module and is never copied into it.
func corpusDir(t *testing.T) string { return corpus.Dir(t) }

// corpusDiagnostics records what Parse finds in each JSON report of the
// corpus. Every file must parse; a new file must be added here.
var corpusDiagnostics = map[string][]string{
	"cry-inc__dmarc-report-viewer__google.json": nil,
	"cry-inc__dmarc-report-viewer__microsoft.json": {
		"policy-string-encoded@policies[1].policy.policy-string", // TLSA records as one JSON string
	},
	"cry-inc__dmarc-report-viewer__no-contact.json": {
		"missing-field@contact-info", // null
		"end-at-next-midnight@date-range.end-datetime",
		"mx-host-prefixed@policies[0].policy.mx-host[0]", // "mx: mx.server.com"
	},
	"cry-inc__dmarc-report-viewer__no-policy.json": nil,
	"cry-inc__dmarc-report-viewer__rfc-example.json": {
		"missing-ip@policies[0].failure-details[0].receiving-ip", // as in RFC 8460 Appendix B
	},
	"domainaware__parsedmarc__empty_failure_detail_fields.json": {
		"missing-ip@policies[0].failure-details[0].sending-mta-ip", // ""
	},
	"domainaware__parsedmarc__mail.ru.json": {
		"end-at-next-midnight@date-range.end-datetime",
		"missing-field@policies[0].policy.policy-string",
		"missing-ip@policies[0].failure-details[0].sending-mta-ip",
		"missing-ip@policies[0].failure-details[1].sending-mta-ip",
		"failure-count-mismatch@policies[0].summary.total-failure-session-count", // 1 vs 2
	},
	"domainaware__parsedmarc__rfc8460.json": {
		"mx-host-string@policies[0].policy.mx-host", // erratum 6241
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	},
	"domainaware__parsedmarc__smtp_tls.json": nil,
	"kravietz__tlsrpt-rs__rfc8460.json": {
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	},
	"phi-ag__mta-sts-exporter__google.json": nil,
	"phi-ag__mta-sts-exporter__microsoft-2.json": {
		"time-without-zone@date-range.start-datetime",
		"time-without-zone@date-range.end-datetime",
	},
	"phi-ag__mta-sts-exporter__microsoft.json": nil,
	"phi-ag__mta-sts-exporter__rfc-errata-6241.json": {
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	},
	"robalexdev__tlsrpt-be__report-2.json": nil,
	"robalexdev__tlsrpt-be__testing.json": {
		"mx-host-string@policies[0].policy.mx-host",
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	},
	"sebastka__tlsrpt__google-sts.json": nil,
	"stalwartlabs__mail-auth__rpt01.json": {
		"missing-ip@policies[0].failure-details[0].receiving-ip",
	},
	"stalwartlabs__mail-auth__rpt02.json": {
		"range-not-one-day@date-range", // seven days
	},
}

func TestCorpusReports(t *testing.T) {
	dir := corpusDir(t)
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no JSON reports in %s", dir)
	}
	seen := map[string]bool{}
	for _, path := range names {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := corpusDiagnostics[name]
			if !ok {
				t.Fatalf("new corpus file: add it to corpusDiagnostics")
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep, diags := parseBytes(t, data)
			if diff := cmp.Diff(want, diagKeys(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if len(rep.Policies) == 0 || rep.Policies[0].Policy.Domain == "" {
				t.Errorf("no policy domain in %+v", rep)
			}
			// Real reports render in the RFC's form and read back the same.
			checkRoundTrip(t, rep)
		})
	}
	var missing []string
	for name := range corpusDiagnostics {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("corpus files no longer present: %s", strings.Join(missing, ", "))
	}
}
