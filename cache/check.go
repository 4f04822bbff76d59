package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"

	"github.com/mtasts/mtasts/internal/sqlitefile"
)

// sqliteMagic begins every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Check tells whether Open of rawURL would succeed and the cache then
// work, without changing anything: for SQLite, a file that does not
// exist must be creatable (its directory exists and is writable), an
// existing one must open for writing and be an SQLite database (or empty,
// as Open leaves a file it created); Redis must answer a PING; PostgreSQL
// must take the schema, which Check creates in a transaction that it
// rolls back, so it connects with the rights the program will have.
func Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("cache: URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "memory":
		_, err := memorySize(u, 0)
		return err
	case "sqlite":
		path, err := sqlitePath(u)
		if err != nil {
			return err
		}
		if err := checkSQLite(path); err != nil {
			return fmt.Errorf("cache: sqlite %s: %w", path, err)
		}
		return nil
	case "redis", "rediss":
		r, err := openRedis(u, nil)
		if err != nil {
			return err
		}
		defer r.client.Close()
		if err := r.client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("cache: redis %s: %w", u.Host, err)
		}
		return nil
	case "postgres", "postgresql":
		s, err := openPostgres(rawURL, nil)
		if err != nil {
			return err
		}
		defer s.db.Close()
		return s.initDry(ctx)
	}
	return fmt.Errorf("cache: URL %q: unknown scheme %q (want memory:, sqlite:, redis:, rediss:, postgres:)", u.Redacted(), u.Scheme)
}

// checkSQLite checks that Open could use the database file path: its
// directory writable (SQLite keeps its journal beside it), and the file
// creatable if missing, else writable and an SQLite database or empty.
func checkSQLite(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return sqlitefile.Creatable(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sqlitefile.Creatable(path); err != nil {
		return err
	}
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	if n == 0 && errors.Is(err, io.EOF) {
		return nil // created by Open, not filled yet
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if !bytes.Equal(head[:n], sqliteMagic) {
		return errors.New("not an SQLite database")
	}
	return nil
}

// initDry creates the schema as init does, in a transaction that it
// rolls back.
func (s *sqlStore) initDry(ctx context.Context) error {
	tx, err := s.createSchema(ctx)
	if err != nil {
		return err
	}
	return tx.Rollback()
}
