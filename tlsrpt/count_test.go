package tlsrpt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestParseSessionCountCeiling checks that counts up to MaxSessionCount
// are read and larger ones refuse the report, with an error naming the
// member and the ceiling.
func TestParseSessionCountCeiling(t *testing.T) {
	report := func(n string) []byte {
		return fmt.Appendf(nil, `{"organization-name": "o", "report-id": "r",
			"date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
			"policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com", "policy-string": ["mode: testing"]},
				"summary": {"total-successful-session-count": 0, "total-failure-session-count": %[1]s},
				"failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.1",
					"receiving-ip": "192.0.2.2", "failed-session-count": %[1]s}]}]}`, n)
	}
	tests := []struct {
		count string
		ok    bool
	}{
		{"0", true},
		{"1000000000000", true}, // MaxSessionCount
		{"1000000000001", false},
		{"9223372036854775807", false},
	}
	for _, tc := range tests {
		t.Run(tc.count, func(t *testing.T) {
			rep, _, err := Parse(bytes.NewReader(report(tc.count)), ParseOptions{})
			if tc.ok {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := fmt.Sprint(rep.Policies[0].FailureDetails[0].FailedSessionCount); got != tc.count {
					t.Errorf("failed-session-count = %s, want %s", got, tc.count)
				}
				return
			}
			var re *ReportError
			if !errors.As(err, &re) || !errors.Is(err, ErrReportSyntax) {
				t.Fatalf("Parse = %v, want a *ReportError", err)
			}
			// The summary comes first in the policy: its count is named.
			if re.Path != "policies[0].summary.total-failure-session-count" ||
				!strings.Contains(err.Error(), tc.count) || !strings.Contains(err.Error(), "10^12") {
				t.Errorf("error %q (path %q) does not say where and why", err, re.Path)
			}
		})
	}
}

func TestSummaryAddSaturates(t *testing.T) {
	tests := []struct {
		a, b Summary
		want Summary
	}{
		{Summary{1, 2}, Summary{3, 4}, Summary{4, 6}},
		{Summary{math.MaxInt64, 1}, Summary{1, math.MaxInt64}, Summary{math.MaxInt64, math.MaxInt64}},
		{Summary{math.MaxInt64 - 1, 0}, Summary{1, 0}, Summary{math.MaxInt64, 0}},
		{Summary{math.MinInt64, -1}, Summary{-1, 1}, Summary{math.MinInt64, 0}},
	}
	for _, tc := range tests {
		if got := tc.a.Add(tc.b); got != tc.want {
			t.Errorf("%v.Add(%v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if got := (Summary{math.MaxInt64, math.MaxInt64}).Sessions(); got != math.MaxInt64 {
		t.Errorf("Sessions = %d, want MaxInt64", got)
	}
	rep := &Report{Policies: []PolicyResult{{Summary: Summary{Failed: math.MaxInt64}}, {Summary: Summary{Failed: math.MaxInt64}}}}
	if got := rep.Totals(); got != (Summary{Failed: math.MaxInt64}) {
		t.Errorf("Totals = %v, want saturated", got)
	}
}
