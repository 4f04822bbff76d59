package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/policyhost"
)

// policy records prints the zone-file lines to publish and how live DNS
// compares: missing, stale id, then all published.
func TestPolicyRecords(t *testing.T) {
	w := testworld.New(t)
	path := serveConfig(t, w, "[serve.records]\naddresses = [\"192.0.2.10\"]\nttl = 600", "a.test", "b.test")
	records := func(args ...string) cmdResult {
		return runCmd(t, w, "", append([]string{"policy", "records", "--config", path, "--resolver", w.Resolver()}, args...)...)
	}

	r := records("a.test", "--json")
	if r.code != exitErrors {
		t.Fatalf("nothing published: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var got []policyhost.DomainRecords
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0].Domain != "a.test" {
		t.Fatalf("JSON: %v\n%s", err, r.stdout)
	}
	id := got[0].ID
	for _, rec := range got[0].Records {
		if rec.Status != policyhost.StatusMissing {
			t.Errorf("%s %s: %s, want missing", rec.Type, rec.Name, rec.Status)
		}
	}

	w.DNS.Add("mta-sts.a.test. 300 IN A 192.0.2.10")
	w.DNS.TXT("_mta-sts.a.test", "v=STSv1; id=20200101000000;")
	r = records("a.test")
	for _, want := range []string{
		"mta-sts.a.test.\t600\tIN\tA\t192.0.2.10\t; published",
		"_mta-sts.a.test.\t600\tIN\tTXT\t\"v=STSv1; id=" + id + ";\"\t; stale; DNS has v=STSv1; id=20200101000000;",
		"_smtp._tls.a.test.\t600\tIN\tTXT\t\"v=TLSRPTv1; rua=mailto:tlsrpt@a.test\"\t; missing",
		"; 1 of 3 records published.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != exitErrors {
		t.Errorf("stale id: code %d", r.code)
	}

	w.DNS.Remove("_mta-sts.a.test", 16)
	w.DNS.TXT("_mta-sts.a.test", "v=STSv1; id="+id+";")
	if r = records("a.test"); r.code != exitWarnings {
		t.Errorf("only TLS-RPT missing: code %d\n%s", r.code, r.stdout)
	}
	w.DNS.TXT("_smtp._tls.a.test", "v=TLSRPTv1; rua=mailto:tlsrpt@a.test")
	if r = records("a.test"); r.code != exitOK || !strings.Contains(r.stdout, "3 of 3 records published.") {
		t.Errorf("all published: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The id is the one serve uses: it is kept in the data directory.
	if r = records("a.test", "--json"); !strings.Contains(r.stdout, `"id": "`+id+`"`) {
		t.Errorf("id changed between runs:\n%s", r.stdout)
	}
	if _, err := os.Stat(strings.TrimSuffix(path, "mtasts.toml") + "data/policies.json"); err != nil {
		t.Errorf("state file: %v", err)
	}
	if r = records("c.test"); r.code != exitCannotRun || !strings.Contains(r.stderr, "not a domain of") {
		t.Errorf("unknown domain: code %d %s", r.code, r.stderr)
	}
}

// While serve holds the data directory, policy records reads the ids it
// serves and writes nothing; a policy changed in the file but not loaded
// yet gets a provisional id and a warning.
func TestPolicyRecordsWhileServing(t *testing.T) {
	w := testworld.New(t)
	path := serveConfig(t, w, `config_check = "0s"`, "a.test")
	startServe(t, "--config", path)
	stateFile := filepath.Join(filepath.Dir(path), "data", policyhost.StateFile)
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]policyhost.DomainState
	if err := json.Unmarshal(before, &state); err != nil {
		t.Fatal(err)
	}
	served := state["a.test"].ID

	records := func() (cmdResult, []policyhost.DomainRecords) {
		r := runCmd(t, w, "", "policy", "records", "--config", path, "--resolver", w.Resolver(), "--json")
		var got []policyhost.DomainRecords
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
			t.Fatalf("JSON: %v\n%s%s", err, r.stdout, r.stderr)
		}
		return r, got
	}
	r, got := records()
	if got[0].ID != served || strings.Contains(r.stderr, "provisional") {
		t.Errorf("id %q, want the served %q; stderr:\n%s", got[0].ID, served, r.stderr)
	}

	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`mode = "enforce"`), []byte(`mode = "testing"`), 1), 0o644)
	r, got = records()
	if got[0].ID == served || !strings.Contains(r.stderr, "a.test: the running mtasts serve has not loaded this policy yet; id "+got[0].ID+" is provisional") {
		t.Errorf("changed policy: id %q (served %q); stderr:\n%s", got[0].ID, served, r.stderr)
	}
	if after, _ := os.ReadFile(stateFile); !bytes.Equal(after, before) {
		t.Errorf("policy records wrote the state of a running serve:\n%s\nwas:\n%s", after, before)
	}
}
