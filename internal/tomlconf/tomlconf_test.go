package tomlconf

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// section is what a service reads: [svc] with a nested table, a map of
// tables and an array of tables [[item]].
type section struct {
	Svc struct {
		Name    string             `toml:"name"`
		Wait    time.Duration      `toml:"wait"`
		List    []string           `toml:"list"`
		Nested  struct{ On bool }  `toml:"nested"`
		Zones   map[string]subZone `toml:"zones"`
		Default subZone            `toml:"default_zone"`
	} `toml:"svc"`
	Item []struct {
		Name string `toml:"name"`
	} `toml:"item"`
}

type subZone struct {
	Mode string `toml:"mode"`
}

func decode(t *testing.T, text string) (*section, error) {
	t.Helper()
	var s section
	return &s, New("/etc/mtasts/mtasts.toml", []byte(text)).Decode(&s)
}

func TestDecode(t *testing.T) {
	s, err := decode(t, `
[other]
anything = "goes: another service's section"

[svc]
name = "x"
wait = "90s"
list = ["a", "b"]

[svc.zones."example.com"]
mode = "m"

[[item]]
name = "one"
[[item]]
name = "two"
`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Svc.Name != "x" || s.Svc.Wait != 90*time.Second || len(s.Svc.List) != 2 || s.Svc.Zones["example.com"].Mode != "m" ||
		len(s.Item) != 2 || s.Item[1].Name != "two" {
		t.Errorf("decoded %+v", s)
	}
}

// Every error names the file, the line and, for a value, the key with its
// section.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"syntax", "[svc]\nname = \"x\n", `/etc/mtasts/mtasts.toml:2: `},
		{"unknown key", "[svc]\nname = \"x\"\nnmae = \"y\"\n", `/etc/mtasts/mtasts.toml:3: unknown setting "svc.nmae"`},
		{"unknown key in an array of tables", "[[item]]\nname = \"a\"\n[[item]]\nnmae = \"b\"\n", `mtasts.toml:4: unknown setting "item.nmae"`},
		{"unknown table, once", "[svc.extra]\na = 1\n[svc.extra.more]\nb = 2\n", `mtasts.toml:1: unknown setting "svc.extra"`},
		{"unknown key in a quoted table", "[svc.zones.\"a.example\"]\nmdoe = \"x\"\n", `mtasts.toml:2: unknown setting "svc.zones.\"a.example\".mdoe"`},
		{"string for a list", "[svc]\n\nlist = \"a\"\n", `mtasts.toml:3: svc.list: want an array, not a string`},
		{"integer for a string", "[svc.zones.'a.example']\nmode = 1\n", `mtasts.toml:2: svc.zones."a.example".mode: want a string, not an integer`},
		{"bad duration", "[svc]\nwait = \"soon\"\n", `mtasts.toml:2: svc.wait: invalid duration: "soon"`},
		{"value for a map", "[svc]\nzones = 1\n", `mtasts.toml:2: svc.zones: want a table, not an integer`},
		{"value for a table", "[svc]\ndefault_zone = \"x\"\n", `mtasts.toml:2: svc.default_zone: want a table, not a string`},
	} {
		_, err := decode(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
		}
		if tc.name == "unknown table, once" && strings.Count(err.Error(), "unknown setting") != 1 {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// Unknown keys are reported once the rest is decoded, so that a service
// can go on and report its other problems too.
func TestUnknownLeavesDecoded(t *testing.T) {
	s, err := decode(t, "[svc]\nname = \"x\"\nnmae = \"y\"\nlist = [\"a\"]\n")
	if !errors.Is(err, ErrUnknownSetting) || s.Svc.Name != "x" || len(s.Svc.List) != 1 {
		t.Errorf("%v, %+v", err, s.Svc)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Errorf("%#v", err)
	}
}

// keyedError is an error type of a service that names its setting.
type keyedError struct{ key string }

func (e *keyedError) Error() string      { return e.key + ": service's message" }
func (e *keyedError) SettingKey() string { return e.key }

func TestLocate(t *testing.T) {
	f := New("conf/mtasts.toml", []byte(`[svc]
name = "x"

[svc.zones."a.example"]
mode = "m"

[[item]]
name = "one"
[[item]]
name = "two"
`))
	err := f.Locate(errors.Join(
		Setting(errors.New("bad name"), "svc", "name"),
		Setting(errors.New("bad mode"), "svc", "zones", "a.example", "mode"),
		Setting(errors.New("not written, its table is"), "svc", "zones", "a.example", "other"),
		fmt.Errorf("wrapped: %w", &keyedError{"svc.name"}),
		errors.New("no setting"),
		&Error{File: "elsewhere.toml", Line: 7, Err: errors.New("kept")},
	))
	want := `conf/mtasts.toml:2: svc.name: bad name
conf/mtasts.toml:5: svc.zones."a.example".mode: bad mode
conf/mtasts.toml:4: svc.zones."a.example".other: not written, its table is
conf/mtasts.toml:2: wrapped: svc.name: service's message
conf/mtasts.toml: no setting
elsewhere.toml:7: kept`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if f.Locate(nil) != nil {
		t.Error("Locate(nil) is not nil")
	}
	if n := f.Line("item", "1", "name"); n != 10 {
		t.Errorf("item 1 name: line %d, want 10", n)
	}
}

func TestResolve(t *testing.T) {
	f := New(filepath.Join("/etc", "mtasts", "mtasts.toml"), nil)
	for in, want := range map[string]string{"": "", "/abs/file": "/abs/file", "certs/a.crt": "/etc/mtasts/certs/a.crt"} {
		if got := f.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	if got := New("mtasts.toml", nil).Resolve("a.crt"); got != "a.crt" {
		t.Errorf("beside a relative file name: %q", got)
	}
}
