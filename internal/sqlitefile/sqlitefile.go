// Package sqlitefile prepares the file of an SQLite database that a store
// opens by URL, so that a store is created only where it was asked for
// and readable by its owner only.
package sqlitefile

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/mtasts/mtasts/internal/statedir"
)

// Mode is the mode of a database file Prepare creates: SQLite gives its
// -wal and -shm files the same. Stores hold reports and policies that
// are nobody else's business.
const Mode fs.FileMode = 0o600

// Path returns the file of a sqlite: URL, sqlite:///abs/path or
// sqlite:rel/path.
func Path(u *url.URL) (string, error) {
	path := u.Opaque
	if path == "" {
		if u.Host != "" {
			return "", fmt.Errorf("URL %q: write sqlite:///absolute/path or sqlite:relative/path", u.Redacted())
		}
		path = u.Path
	}
	if path == "" {
		return "", fmt.Errorf("URL %q: no file name", u.Redacted())
	}
	return path, nil
}

// Prepare makes sure the database file path can be opened: its directory
// must exist (a mistyped path fails, naming the missing directory, rather
// than creating directories), and a file that does not exist yet is
// created empty with Mode, which SQLite then fills. An existing file is
// left as it is.
func Prepare(path string) error {
	if err := statedir.Exists(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, Mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Creatable tells whether Prepare could create the database file path,
// without creating it: its directory must exist and be writable.
func Creatable(path string) error {
	return statedir.Writable(filepath.Dir(path))
}

// DSN returns the data source name that opens the database file path with
// the URI parameters query ("_pragma=…&…"). A relative path is taken from
// the working directory: a file: URI of a relative path would read its
// first element as an authority.
func DSN(path, query string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: abs, RawQuery: query}).String(), nil
}
