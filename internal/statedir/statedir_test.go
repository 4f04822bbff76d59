package statedir

import (
	"os"
	"path/filepath"
	"testing"
)

// Creatable accepts a writable directory and a missing one below it, and
// refuses a path below a file; it creates nothing.
func TestCreatable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{dir, true},
		{filepath.Join(dir, "a", "b", "c"), true},
		{file, false},
		{filepath.Join(file, "sub"), false},
	} {
		if err := Creatable(c.path); (err == nil) != c.ok {
			t.Errorf("Creatable(%s) = %v, want ok %v", c.path, err, c.ok)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("Creatable created a directory")
	}
}

// Default is the system directory when it can be used, else the user's
// XDG state directory, with a note saying so.
func TestDefault(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	usable, unusable := filepath.Join(dir, "lib", "mtasts"), filepath.Join(file, "mtasts")
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, c := range []struct {
		name     string
		system   string
		env      map[string]string
		want     string
		wantNote bool
	}{
		{"system", usable, map[string]string{"HOME": "/home/a"}, usable, false},
		{"XDG_STATE_HOME", unusable, map[string]string{"XDG_STATE_HOME": "/state", "HOME": "/home/a"}, "/state/mtasts", true},
		{"XDG_STATE_HOME relative", unusable, map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/a"}, "/home/a/.local/state/mtasts", true},
		{"no home", unusable, map[string]string{}, unusable, false},
	} {
		got, note := Default(c.system, env(c.env))
		if got != c.want || (note != "") != c.wantNote {
			t.Errorf("%s: Default = %q, note %q; want %q, a note: %v", c.name, got, note, c.want, c.wantNote)
		}
	}
}
