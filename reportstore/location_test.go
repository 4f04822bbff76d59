package reportstore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultDataDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	writable := filepath.Join(t.TempDir(), "lib", "mtasts")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unusable := filepath.Join(file, "mtasts") // not creatable, even as root
	home := t.TempDir()
	legacyHome := t.TempDir()
	legacy := filepath.Join(legacyHome, ".local", "share", "mtasts")
	if err := os.MkdirAll(legacy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, "reports.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		getenv   func(string) string
		system   string
		want     string
		wantNote bool
	}{
		{"system directory usable", env("XDG_STATE_HOME", "/state", "HOME", home), writable, writable, false},
		{"XDG_STATE_HOME", env("XDG_STATE_HOME", "/state", "HOME", home), unusable, "/state/mtasts", true},
		{"XDG_STATE_HOME relative", env("XDG_STATE_HOME", "relative", "HOME", home), unusable, filepath.Join(home, ".local", "state", "mtasts"), true},
		{"HOME", env("HOME", home), unusable, filepath.Join(home, ".local", "state", "mtasts"), true},
		{"store of an earlier version", env("HOME", legacyHome), unusable, legacy, false},
	} {
		got, note := DefaultDataDir(c.system, c.getenv)
		if got != c.want || (note != "") != c.wantNote {
			t.Errorf("%s: DefaultDataDir = %q, note %q; want %q, a note: %v", c.name, got, note, c.want, c.wantNote)
		}
	}
	dir := filepath.Join(t.TempDir(), "new")
	url, note, err := LocalURL("", dir, unusable, env("HOME", home))
	if fi, serr := os.Stat(dir); err != nil || serr != nil || !fi.IsDir() || note != "" || url != "sqlite://"+filepath.Join(dir, "reports.db") {
		t.Errorf("LocalURL with a data directory: %q %q %v, %v", url, note, err, serr)
	}
	if url, _, err := LocalURL("postgres://db/x", dir, unusable, env()); url != "postgres://db/x" || err != nil {
		t.Errorf("LocalURL with a URL: %q, %v", url, err)
	}
}
