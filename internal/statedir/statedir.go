// Package statedir tells where a command can keep its state: whether
// the process may create files in a directory, or create the directory,
// without creating anything to find out.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Exists tells whether dir exists and is a directory; the error of a
// missing one names it, so that a mistyped path is easy to see.
func Exists(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist (create it first, or name a file in another)", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Writable tells whether dir is a directory in which the process may
// create files.
func Writable(dir string) error {
	if err := Exists(dir); err != nil {
		return err
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", dir, err)
	}
	return nil
}

// Creatable tells whether the process can keep files in dir: dir is
// Writable, or does not exist and its nearest existing parent is, so
// that os.MkdirAll would create it.
func Creatable(dir string) error {
	dir = filepath.Clean(dir)
	for {
		_, err := os.Stat(dir)
		parent := filepath.Dir(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || parent == dir {
			return Writable(dir)
		}
		dir = parent
	}
}
