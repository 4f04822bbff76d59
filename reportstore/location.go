package reportstore

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mtasts/mtasts/internal/statedir"
)

// LocalURL is the store a command line names: url itself when set, else
// reports.db in dataDir, else in the default data directory (see
// DefaultDataDir over system). A data directory is created (mode 0700)
// if needed, as that is where the store was asked for; a url's file must
// be in a directory that exists. note, when not "", says on which
// directory a user's default fell back, for standard error.
func LocalURL(url, dataDir, system string, getenv func(string) string) (_, note string, err error) {
	if url != "" {
		return url, "", nil
	}
	if dataDir == "" {
		dataDir, note = DefaultDataDir(system, getenv)
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", note, fmt.Errorf("data directory: %w", err)
	}
	return "sqlite://" + filepath.ToSlash(filepath.Join(dataDir, "reports.db")), note, nil
}

// DefaultDataDir is where a command keeps the store without a data
// directory or URL given: the default state directory (statedir.Default
// over system), or, for a user who has a store in ~/.local/share/mtasts
// (or $XDG_DATA_HOME/mtasts), where earlier versions kept it, that one.
// note is as statedir.Default says.
func DefaultDataDir(system string, getenv func(string) string) (dir, note string) {
	dir, note = statedir.Default(system, getenv)
	if note == "" {
		return dir, ""
	}
	old := getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(old) {
		old = filepath.Join(getenv("HOME"), ".local", "share")
	}
	old = filepath.Join(old, "mtasts")
	if _, err := os.Stat(filepath.Join(old, "reports.db")); err == nil && filepath.IsAbs(old) {
		return old, ""
	}
	return dir, note
}
