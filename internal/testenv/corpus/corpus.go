// Package corpus finds the shared corpus of real-world TLS reports for
// tests. The corpus lives beside the repository, in shared/corpus/tlsrpt
// of some parent directory, and is never copied into it; $TLSRPT_CORPUS
// names another place.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Env is the variable that names the corpus directory.
const Env = "TLSRPT_CORPUS"

// RequireEnv, set to 1, makes a missing corpus fail the test instead of
// skipping it.
const RequireEnv = "MTASTS_REQUIRE_CORPUS"

// Dir returns the corpus directory: $TLSRPT_CORPUS, else the first
// shared/corpus/tlsrpt found walking up from the working directory. With
// none, it skips the test saying how to run it, or fails it when
// $MTASTS_REQUIRE_CORPUS is 1.
func Dir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(Env); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("%s=%s is not a directory", Env, dir)
		}
		return dir
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		candidate := filepath.Join(dir, "shared", "corpus", "tlsrpt")
		if fi, err := os.Stat(candidate); err == nil && fi.IsDir() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	why := "no shared/corpus/tlsrpt in any parent directory; set " + Env + " to the corpus directory to run the corpus tests"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 requires it)", why, RequireEnv)
	}
	t.Skip(why)
	return ""
}
