package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteConfig writes text as mtasts.toml in a new temporary directory of
// t and returns its path.
func WriteConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mtasts.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
