package serve

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic, and whatever it accepts is a
// configuration whose every policy is valid.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "docs", "mtasts.example.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("[[domain]]\nname = \"a.example\"\nmode = \"enforce\"\nmx = \"auto\"\ncert_file = \"a\"\nkey_file = \"b\"\n")
	f.Add("[[domain]]\nname = \"a.example\"\nmode = \"testing\"\nmx = [\"auto\", \"*.a.example\"]\nmax_age = 86400\ncert_file = \"a\"\nkey_file = \"b\"\n")
	f.Add("[serve]\nmx_refresh = \"1h\"\n[serve.limits]\nmax_conns = 5\n")
	f.Add("[daemon]\nx = 1\n[[domain]]\nname = \"\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := Parse("fuzz.toml", []byte(text))
		if err != nil {
			return
		}
		for _, d := range cfg.Domains {
			if d.Domain == "" || !d.Mode.Valid() {
				t.Errorf("accepted domain %+v", d)
			}
		}
	})
}
