package enforce

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
)

// exim_listen: relative socket paths from the file's directory, errors
// naming the key, and Exim alone is enough to listen for.
func TestEximListenConfig(t *testing.T) {
	noenv := func(string) string { return "" }
	path := testenv.WriteConfig(t, "[daemon]\nlisten = []\nexim_listen = [\"unix:run/exim.sock\", \"127.0.0.1:8462\"]\n")
	c, err := Load(path, noenv)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"unix:" + filepath.Join(filepath.Dir(path), "run/exim.sock"), "127.0.0.1:8462"}; !slices.Equal(c.EximListen, want) {
		t.Errorf("exim_listen = %q, want %q", c.EximListen, want)
	}
	for _, tc := range []struct{ file, want string }{
		{"[daemon]\nexim_listen = [\"nonsense\"]\n", "exim_listen"},
		{"[daemon]\nexim_listen = [\"unix:\"]\n", "exim_listen"},
		{"[daemon]\nlisten = []\nexim_listen = []\n", "no listen address"},
	} {
		if _, err := Load(testenv.WriteConfig(t, tc.file), noenv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.file, err, tc.want)
		}
	}
}
