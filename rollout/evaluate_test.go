package rollout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// evaluateCase is a fixture of testdata/evaluate: evidence, thresholds,
// and the verdict with its reasons, compared without their messages.
type evaluateCase struct {
	Comment    string     `json:"comment"`
	Thresholds Thresholds `json:"thresholds"`
	Evidence   Evidence   `json:"evidence"`
	Want       Status     `json:"want"`
	Reasons    []Reason   `json:"reasons"`
}

func TestEvaluate(t *testing.T) {
	files, err := filepath.Glob("testdata/evaluate/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var tc evaluateCase
			if err := json.Unmarshal(data, &tc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			v := Evaluate(tc.Evidence, tc.Thresholds)
			if v.Status != tc.Want {
				t.Errorf("%s: verdict %s, want %s; reasons %+v", tc.Comment, v.Status, tc.Want, v.Reasons)
			}
			if v.WindowDays != 14 || v.Domain != tc.Evidence.Domain {
				t.Errorf("window %d days, domain %q", v.WindowDays, v.Domain)
			}
			got := make([]Reason, len(v.Reasons))
			for i, r := range v.Reasons {
				for _, name := range []string{r.MXHost, r.ResultType, r.Organization} {
					if !strings.Contains(r.Message, name) {
						t.Errorf("reason %s: message %q does not name %q", r.Code, r.Message, name)
					}
				}
				if r.Message == "" {
					t.Errorf("reason %s without message", r.Code)
				}
				r.Message = ""
				got[i] = r
			}
			if diff := cmp.Diff(tc.Reasons, got); diff != "" {
				t.Errorf("%s: reasons (-want +got):\n%s", tc.Comment, diff)
			}
		})
	}
}

// TestEvaluateTally checks the breakdowns a verdict carries.
func TestEvaluateTally(t *testing.T) {
	data, err := os.ReadFile("testdata/evaluate/failing-mx.json")
	if err != nil {
		t.Fatal(err)
	}
	var tc evaluateCase
	if err := json.Unmarshal(data, &tc); err != nil {
		t.Fatal(err)
	}
	rep := Evaluate(tc.Evidence, Thresholds{}).Evidence
	if rep.Sessions != 1250 || rep.Failures != 50 {
		t.Errorf("totals %d sessions, %d failures", rep.Sessions, rep.Failures)
	}
	want := []MXTally{{Tally: Tally{Key: "mx2.example.com", Sessions: 1250, Failures: 50, FailureRate: 0.04}, InPolicy: true, NeverSucceeded: true}}
	if diff := cmp.Diff(want, rep.ByMXHost); diff != "" {
		t.Errorf("by MX host (-want +got):\n%s", diff)
	}
	wantOrgs := []Tally{
		{Key: "Google Inc.", Sessions: 940, Failures: 40, FailureRate: 40.0 / 940},
		{Key: "Microsoft Corporation", Sessions: 310, Failures: 10, FailureRate: 10.0 / 310},
	}
	if diff := cmp.Diff(wantOrgs, rep.ByOrganization); diff != "" {
		t.Errorf("by organization (-want +got):\n%s", diff)
	}
	if len(rep.ByResultType) != 1 || rep.ByResultType[0].Key != "certificate-expired" || rep.ByResultType[0].Failures != 50 {
		t.Errorf("by result type: %+v", rep.ByResultType)
	}
}

func TestThresholdDefaults(t *testing.T) {
	th := DefaultThresholds()
	if th.Window != DefaultWindow || th.MinOrganizations != 2 || th.MinSessions != 100 || th.MinDays != 7 ||
		th.MaxFailureRate != 0 || th.MaxOrganizationFailureRate != 0.01 || th.WindowDays() != 14 {
		t.Errorf("DefaultThresholds() = %+v", th)
	}
}
