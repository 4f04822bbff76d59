package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/sts"
)

// promoteWorld is example.com served in mode testing by a running mtasts
// serve, with its MX host mx1 in a test world.
type promoteWorld struct {
	w       *testworld.World
	serve   *serveRun
	config  string
	dataDir string
	db      string
}

func newPromoteWorld(t *testing.T) *promoteWorld {
	t.Helper()
	w := fixedWorld(t)
	w.DNS.Add("example.com. MX 10 mx1.example.com.")
	w.SMTP("mx1.example.com", testworld.SMTPOptions{})
	config := serveConfig(t, w, `config_check = "50ms"`, "example.com")
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `mode = "enforce"`, `mode = "testing" # for now`, 1))
	if err := os.WriteFile(config, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(filepath.Dir(config), "data")
	return &promoteWorld{w: w, serve: startServe(t, "--config", config), config: config, dataDir: dataDir,
		db: "sqlite://" + filepath.Join(dataDir, "reports.db")}
}

// importFixtures stores report fixtures of testdata/promote in serve's store.
func (p *promoteWorld) importFixtures(t *testing.T, names ...string) {
	t.Helper()
	args := []string{"reports", "import", "--db", p.db}
	for _, n := range names {
		args = append(args, filepath.Join("testdata", "promote", n))
	}
	if r := runCmd(t, nil, "", args...); r.code != exitOK {
		t.Fatalf("reports import: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// rollout runs promote or demote for example.com against the world.
func (p *promoteWorld) rollout(t *testing.T, command string, args ...string) cmdResult {
	t.Helper()
	all := append([]string{command, "example.com", "--config", p.config, "--resolver", p.w.Resolver(), "--ca-file", p.w.CAFile(),
		"--timeout", "5s", "--wait", "20s"}, args...)
	return runCmd(t, p.w, "", all...)
}

// served returns the policy id serve has given example.com.
func (p *promoteWorld) servedID(t *testing.T) string {
	t.Helper()
	st, err := policyhost.OpenState(p.dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := st.Get("example.com")
	return d.ID
}

// verdictJSON is the promote --json output, decoded loosely to check its
// exact keys.
func verdictJSON(t *testing.T, r cmdResult) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("promote --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return m
}

func TestPromoteAndDemote(t *testing.T) {
	p := newPromoteWorld(t)
	small := []string{"--min-days", "2"}

	// One organisation: insufficient data.
	p.importFixtures(t, "google-2026-11-24.json")
	r := p.rollout(t, "promote", append(small, "--json")...)
	m := verdictJSON(t, r)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	if r.code != exitWarnings || !slices.Equal(keys, []string{"domain", "evidence", "reasons", "verdict", "window_days"}) ||
		string(m["verdict"]) != `"insufficient-data"` || string(m["window_days"]) != "14" || !strings.Contains(string(m["reasons"]), `"too-few-organizations"`) {
		t.Fatalf("one reporter: code %d, keys %v\n%s%s", r.code, keys, r.stdout, r.stderr)
	}

	// The thresholds of the configuration file apply, the flags on top.
	f, err := os.OpenFile(p.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[rollout.domains.\"example.com\"]\nmin_organizations = 1\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r = p.rollout(t, "promote", append(small, "--json")...); strings.Contains(r.stdout, "too-few-organizations") {
		t.Errorf("min_organizations = 1 in the file: still too few organisations\n%s%s", r.stdout, r.stderr)
	}
	if r = p.rollout(t, "promote", append(small, "--json", "--min-organizations", "2")...); !strings.Contains(r.stdout, "too-few-organizations") {
		t.Errorf("--min-organizations 2 does not override the file\n%s%s", r.stdout, r.stderr)
	}

	// A second organisation, whose report of a month ago names
	// certificate-expired failures at mx1.
	p.importFixtures(t, "microsoft-2026-11-25.json", "microsoft-2026-11-10-failures.json")
	r = p.rollout(t, "promote", append(small, "--json", "--window", "720h")...)
	var v struct {
		Verdict string `json:"verdict"`
		Reasons []struct {
			Code       string `json:"code"`
			MXHost     string `json:"mx_host"`
			ResultType string `json:"result_type"`
			Failures   int64  `json:"failures"`
			Sessions   int64  `json:"sessions"`
		} `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if r.code != exitErrors || v.Verdict != "not-ready" || len(v.Reasons) != 1 || v.Reasons[0].Code != "mx-failures" ||
		v.Reasons[0].MXHost != "mx1.example.com" || v.Reasons[0].ResultType != "certificate-expired" || v.Reasons[0].Failures != 5 || v.Reasons[0].Sessions != 145 {
		t.Fatalf("failures in the window: code %d %+v\n%s", r.code, v, r.stderr)
	}
	before := p.servedID(t)
	r = p.rollout(t, "promote", append(small, "--apply", "--window", "720h")...)
	if r.code != exitErrors || !strings.Contains(r.stderr, "not promoted: the verdict is not-ready") || p.servedID(t) != before ||
		!strings.Contains(r.stdout, "mx-failures: 5 of 145 sessions failed at mx1.example.com with certificate-expired") {
		t.Fatalf("--apply when not ready: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// --force promotes all the same; demote --to testing undoes it.
	r = p.rollout(t, "promote", append(small, "--apply", "--force", "--window", "720h", "--actor", "carol")...)
	forced := p.servedID(t)
	if r.code != exitOK || forced == before || servedMode(p.serve, p.w, "example.com") != sts.ModeEnforce {
		t.Fatalf("promote --apply --force: code %d, id %s\n%s%s", r.code, forced, r.stdout, r.stderr)
	}
	r = p.rollout(t, "demote", "--to", "testing", "--actor", "carol")
	before = p.servedID(t)
	if r.code != exitOK || before == forced || servedMode(p.serve, p.w, "example.com") != sts.ModeTesting || strings.Contains(r.stdout, "RFC 8461 §8.3") {
		t.Fatalf("demote --to testing: code %d, id %s\n%s%s", r.code, before, r.stdout, r.stderr)
	}

	// Over the last 14 days only successes remain.
	r = p.rollout(t, "promote", small...)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "example.com: ready (last 14 days; served mode testing, policy id "+before+")") {
		t.Fatalf("ready: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = p.rollout(t, "promote", append(small, "--apply", "--actor", "alice")...)
	promoted := p.servedID(t)
	if r.code != exitOK || promoted == before || !strings.Contains(r.stdout, `_mta-sts.example.com. TXT "v=STSv1; id=`+promoted+`;"`) ||
		!strings.Contains(r.stdout, "mode testing → enforce, policy id "+before+" → "+promoted) {
		t.Fatalf("promote --apply: code %d, served id %s (was %s)\n%s%s", r.code, promoted, before, r.stdout, r.stderr)
	}
	if mode := servedMode(p.serve, p.w, "example.com"); mode != sts.ModeEnforce {
		t.Errorf("served mode %q after promote --apply, want enforce", mode)
	}
	if data, _ := os.ReadFile(p.config); !strings.Contains(string(data), `mode = "enforce" # for now`) {
		t.Errorf("configuration after promotion:\n%s", data)
	}
	if r := p.rollout(t, "promote", "--apply"); r.code != exitCannotRun || !strings.Contains(r.stderr, "already served in mode enforce") {
		t.Errorf("promoting twice: code %d\n%s", r.code, r.stderr)
	}

	// Emergency: back to none, with a new id, kept for the old max_age.
	r = p.rollout(t, "demote", "--to", "none", "--actor", "bob")
	demoted := p.servedID(t)
	removable := testNow.Add(7 * 24 * time.Hour).Format(time.RFC3339) // the default max_age
	if r.code != exitOK || demoted == promoted || !strings.Contains(r.stdout, "id="+demoted+";") || !strings.Contains(r.stdout, "until "+removable) {
		t.Fatalf("demote --to none: code %d, id %s\n%s%s", r.code, demoted, r.stdout, r.stderr)
	}
	if mode := servedMode(p.serve, p.w, "example.com"); mode != sts.ModeNone {
		t.Errorf("served mode %q after demote --to none, want none", mode)
	}
	if r := p.rollout(t, "demote", "--to", "enforce"); r.code != exitCannotRun {
		t.Errorf("demote --to enforce: code %d", r.code)
	}

	r = p.rollout(t, "promote", "--history", "--json")
	var log []struct {
		Actor, Action, Verdict string
		Forced                 bool
		OldID                  string `json:"old_id"`
		NewID                  string `json:"new_id"`
		Evidence               json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatalf("history: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if len(log) != 4 || !log[0].Forced || log[0].Verdict != "not-ready" || log[1].Action != "demote" || log[1].OldID != forced || log[1].NewID != before {
		t.Fatalf("audit log: %s", r.stdout)
	}
	log = log[2:]
	if log[0].Actor != "alice" || log[0].Action != "promote" || log[0].Verdict != "ready" || log[0].Forced || log[0].OldID != before || log[0].NewID != promoted ||
		!strings.Contains(string(log[0].Evidence), `"by_organization"`) ||
		log[1].Actor != "bob" || log[1].Action != "demote" || log[1].OldID != promoted || log[1].NewID != demoted {
		t.Errorf("audit log: %s", r.stdout)
	}
	r = p.rollout(t, "promote", "--history")
	if r.code != exitOK || !strings.Contains(r.stdout, "not-ready (forced)") || !strings.Contains(r.stdout, "alice  promote  testing → enforce") ||
		!strings.Contains(r.stdout, "bob    demote   enforce → none") {
		t.Errorf("history: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
