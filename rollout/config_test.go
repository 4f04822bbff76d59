package rollout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/tomlconf"
)

// TestLoadConfig checks the [rollout] section: defaults, the section's
// thresholds, per-domain ones on top, and errors with file:line.
func TestLoadConfig(t *testing.T) {
	write := func(data string) string {
		path := filepath.Join(t.TempDir(), "mtasts.toml")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	c, err := LoadConfig(write("[serve]\ndata_dir = \"x\"\n"))
	if err != nil || c.For("example.com") != DefaultThresholds() {
		t.Fatalf("no section: %+v, %v", c, err)
	}
	c, err = LoadConfig(write(`[rollout]
window_days = 21
min_sessions = 1000

[rollout.domains."Example.COM."]
min_organizations = 1
max_failure_rate = 0.001
`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultThresholds()
	def.Window, def.MinSessions = 21*24*time.Hour, 1000
	if got := c.For("other.example"); got != def {
		t.Errorf("default %+v, want %+v", got, def)
	}
	dom := def
	dom.MinOrganizations, dom.MaxFailureRate = 1, 0.001
	if got := c.For("example.com"); got != dom {
		t.Errorf("example.com %+v, want %+v", got, dom)
	}
	c, err = LoadConfig(filepath.Join("..", "docs", "mtasts.example.toml"))
	if err != nil || c.For("example.net").MinOrganizations != 1 || c.For("example.org") != DefaultThresholds() {
		t.Errorf("docs/mtasts.example.toml: %+v, %v", c, err)
	}
	for data, want := range map[string]string{
		"[rollout]\nmin_sesions = 5\n":                   `mtasts.toml:2: unknown setting "rollout.min_sesions"`,
		"[rollout]\nmin_days = \"a week\"\n":             "mtasts.toml:2:",
		"[rollout.domains.\"exa mple\"]\nmin_days = 3\n": `mtasts.toml:1: rollout.domains."exa mple": invalid domain name`,
	} {
		_, err := LoadConfig(write(data))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", data, err, want)
		}
		if strings.Contains(want, "unknown") && !errors.Is(err, tomlconf.ErrUnknownSetting) {
			t.Errorf("%q: %v is not ErrUnknownSetting", data, err)
		}
	}
}
