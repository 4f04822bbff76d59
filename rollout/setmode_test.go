package rollout

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceFile checks that a replaced file keeps its permissions and
// that a symbolic link to it stays a link.
func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "mtasts.toml")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for i, path := range []string{target, link} {
		want := []byte{byte('a' + i), '\n'}
		if err := replaceFile(path, want); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(target); err != nil || string(got) != string(want) {
			t.Errorf("replaceFile(%s): target holds %q, %v", path, got, err)
		}
		if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("replaceFile(%s): target mode %v, %v; want 0640", path, fi.Mode(), err)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link became %v, %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}
