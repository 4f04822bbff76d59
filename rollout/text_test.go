package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mtasts/mtasts/reportstore"
)

func TestChangeWriteText(t *testing.T) {
	c := &Change{Domain: "example.com", Old: ServedPolicy{ID: "1", Mode: "enforce"}, New: ServedPolicy{ID: "2", Mode: "none"},
		RemovableAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var b strings.Builder
	if err := c.WriteText(&b, true); err != nil {
		t.Fatal(err)
	}
	want := `
example.com: mode enforce → none, policy id 1 → 2
Publish the new id (RFC 8461 §3.1):
  _mta-sts.example.com. TXT "v=STSv1; id=2;"
mtasts serve publishes it itself by RFC 2136 update ([serve.dns_update]) as soon as it serves the new id, unless the domain has dns_update = false.
Keep serving this policy and its record until 2026-01-02T03:04:05Z (the old max_age, RFC 8461 §8.3); then remove the _mta-sts record first, the policy host after.
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	b.Reset()
	c = &Change{Domain: "example.com", Old: ServedPolicy{ID: "1", Mode: "testing"}, New: ServedPolicy{Mode: "enforce"}, Pending: true}
	if err := c.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "policy id 1 → (pending)") || !strings.Contains(b.String(), "reload it (SIGHUP)") {
		t.Errorf("pending change:\n%s", b.String())
	}
}

func TestWriteHistory(t *testing.T) {
	var b strings.Builder
	if err := WriteHistory(&b, "example.com", nil); err != nil || b.String() != "example.com: no change recorded\n" {
		t.Errorf("no entries: %q, %v", b.String(), err)
	}
	b.Reset()
	entries := []reportstore.AuditEntry{{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actor: "alice", Domain: "example.com",
		Action: "promote", Forced: true, OldID: "1", OldPolicy: "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n",
		NewPolicy: "garbage", Verdict: "not-ready"}}
	if err := WriteHistory(&b, "example.com", entries); err != nil {
		t.Fatal(err)
	}
	want := "time                  actor  action   mode         policy id      verdict\n" +
		"2026-01-02T03:04:05Z  alice  promote  testing → ?  1 → (pending)  not-ready (forced)\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

func TestVerdictWriteText(t *testing.T) {
	v := Evaluate(Evidence{Domain: "example.com", Policy: ServedPolicy{ID: "1", Mode: "testing"},
		LiveMX: []LiveMX{{Host: "mx.example.com", Covered: true, Problems: []string{"x"}}}}, DefaultThresholds())
	var b strings.Builder
	if err := v.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"example.com: " + string(v.Status) + " (last ", "served mode testing, policy id 1)",
		"Evidence: 0 sessions, 0 failed, 0 days with reports, 0 organisations.", "live MX host", "mx.example.com  yes      no"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("no %q in:\n%s", s, b.String())
		}
	}
}
