package policyhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// RFC 8461 §3.1: the id changes whenever the policy changes, and only then.
func TestStateAssign(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := OpenState(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	assign := func(text string, wantChanged bool) string {
		t.Helper()
		id, changed, err := s.Assign("a.test", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if changed != wantChanged {
			t.Errorf("Assign(%q): changed %v, want %v", text, changed, wantChanged)
		}
		if _, err := sts.ParseRecord("v=STSv1; id=" + id + ";"); err != nil {
			t.Errorf("id %q is not a valid id: %v", id, err)
		}
		return id
	}
	id1 := assign(policyA, true)
	if id1 != "20261126120000" {
		t.Errorf("first id %q", id1)
	}
	if id := assign(policyA, false); id != id1 {
		t.Errorf("unchanged text: id %q, want %q", id, id1)
	}
	// Changes within one second still get distinct, never reused ids.
	seen := map[string]bool{id1: true}
	for i, text := range []string{policyB, policyA, policyB, policyA} {
		id := assign(text, true)
		if seen[id] {
			t.Errorf("change %d: id %q handed out before", i, id)
		}
		seen[id] = true
	}
	now = now.Add(time.Hour)
	last := assign(policyB, true)

	// The id survives a restart.
	s2, err := OpenState(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	id, changed, err := s2.Assign("a.test", []byte(policyB))
	if err != nil || changed || id != last {
		t.Errorf("after reopening: %q %v %v, want %q unchanged", id, changed, err, last)
	}
	if d, ok := s2.Get("a.test"); !ok || d.Text != policyB {
		t.Errorf("Get: %+v %v", d, ok)
	}
}

func TestStateAutoMX(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenState(dir, nil)
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SetAutoMX("a.test", []string{"mx0.a.test", "mx1.a.test"}, map[string]time.Time{"mx0.a.test": until}); err != nil {
		t.Fatal(err)
	}
	s2, _ := OpenState(dir, nil)
	if d, _ := s2.Get("a.test"); len(d.AutoMX) != 2 || d.AutoMX[1] != "mx1.a.test" || !d.Retiring["mx0.a.test"].Equal(until) {
		t.Errorf("after reopening: %v, retiring %v", d.AutoMX, d.Retiring)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.DataDir = t.TempDir()
		c.Domains = []DomainConfig{{Domain: "A.Test.", Mode: sts.ModeEnforce, MaxAge: 604800, MX: []string{"mx.a.test"}, CertFile: "c", KeyFile: "k"}}
		return c
	}
	c := base()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if c.Domains[0].Domain != "a.test" {
		t.Errorf("domain not normalized: %q", c.Domains[0].Domain)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		key    string
		text   string
	}{
		{"mode case", func(c *Config) { c.Domains[0].Mode = "Enforce" }, "mode", `use "enforce"`},
		{"mode missing", func(c *Config) { c.Domains[0].Mode = "" }, "mode", "required"},
		{"max_age", func(c *Config) { c.Domains[0].MaxAge = 31557601 }, "max_age", "exceeds 31557600"},
		{"max_age negative", func(c *Config) { c.Domains[0].MaxAge = -1 }, "max_age", "max_age"},
		{"no mx", func(c *Config) { c.Domains[0].MX = nil }, "mx", `"mx" missing`},
		{"bad mx", func(c *Config) { c.Domains[0].MX = []string{"mx..a.test"} }, "mx", "mx"},
		{"mx line break", func(c *Config) { c.Domains[0].MX = []string{"mx.a.test\r\nmode: none"} }, "mx", "line break"},
		{"bad domain", func(c *Config) { c.Domains[0].Domain = "a..test" }, "domain", ""},
		{"duplicate", func(c *Config) { c.Domains = append(c.Domains, c.Domains[0]) }, "domain", "twice"},
		{"no cert", func(c *Config) { c.Domains[0].CertFile, c.Domains[0].KeyFile = "", "" }, "cert_file", "acme"},
		{"cert without key", func(c *Config) { c.Domains[0].KeyFile = "" }, "cert_file", "together"},
	} {
		c := base()
		tc.change(&c)
		err := c.Validate()
		var de *DomainError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v, want a DomainError", tc.name, err)
			continue
		}
		if de.Key != tc.key || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), `domain "`) {
			t.Errorf("%s: key %q, error %q; want key %q and %q", tc.name, de.Key, err, tc.key, tc.text)
		}
	}
	c = base()
	c.Domains = nil
	c.ACME.Enabled = true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "no domain") || !strings.Contains(err.Error(), "agree_tos") {
		t.Errorf("empty config: %v", err)
	}
	c = base()
	c.ACME.DNS01 = true
	var se *SettingError
	if err := c.Validate(); !errors.As(err, &se) || se.Key != "acme.dns01" || !strings.Contains(err.Error(), "dns_update") {
		t.Errorf("DNS-01 without a server to update: %v", err)
	}
	c.DNSUpdate.Server = "127.0.0.1:53"
	if err := c.Validate(); err != nil {
		t.Errorf("DNS-01 with a server to update: %v", err)
	}
}

// openStateAt opens the state of dir with a clock stopped at 2026-11-26
// 12:00 UTC.
func openStateAt(t *testing.T, dir string) *State {
	t.Helper()
	s, err := OpenState(dir, func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A read-only State assigns ids in memory and never writes the file.
func TestStateReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := openStateAt(t, dir)
	s.SetReadOnly()
	id, changed, err := s.Assign("a.test", []byte("version: STSv1\r\n"))
	if err != nil || !changed || id != "20261126120000" {
		t.Fatalf("Assign = %q, %v, %v", id, changed, err)
	}
	if d, ok := s.Get("a.test"); !ok || d.ID != id {
		t.Errorf("Get after Assign = %+v, %v", d, ok)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only state wrote its file: %v", err)
	}
}

// A held State assigns ids in memory; Commit writes them, and every
// change after it; a second open sees them.
func TestStateHold(t *testing.T) {
	dir := t.TempDir()
	s := openStateAt(t, dir)
	s.Hold()
	id, _, err := s.Assign("a.test", []byte("version: STSv1\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a held state wrote its file: %v", err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAutoMX("a.test", []string{"mx.a.test"}, nil); err != nil {
		t.Fatal(err)
	}
	if d, ok := openStateAt(t, dir).Get("a.test"); !ok || d.ID != id || len(d.AutoMX) != 1 {
		t.Errorf("after Commit, the file holds %+v, %v; want id %s and the MX hosts", d, ok, id)
	}
}
