package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// openURL opens url with the clock and fails t on error.
func openURL(t *testing.T, url string, now func() time.Time) Cache {
	t.Helper()
	c, err := Open(context.Background(), url, Options{Now: now})
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	return c
}

// shared returns the backend behind the memory layer, so that the suite
// tests the backend itself and not the memory in front of it.
func shared(t *testing.T, c Cache) Cache {
	t.Helper()
	l, ok := c.(*Layered)
	if !ok {
		t.Fatalf("Open returned %T, want *Layered", c)
	}
	return l.Shared()
}

// TestBackends runs the one suite against every backend, including real
// Redis and PostgreSQL servers: each backend by itself, and behind the
// memory layer that Open puts in front of it.
func TestBackends(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		runSuite(t, func(t *testing.T, now func() time.Time) Cache { return openURL(t, "memory:", now) })
	})
	sqliteURL := func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "cache.db") }
	t.Run("sqlite", func(t *testing.T) {
		runSuite(t, func(t *testing.T, now func() time.Time) Cache { return shared(t, openURL(t, sqliteURL(t), now)) })
		t.Run("layered", func(t *testing.T) {
			runSuite(t, func(t *testing.T, now func() time.Time) Cache { return openURL(t, sqliteURL(t), now) })
		})
	})
	var prefixes atomic.Int64
	redisURL := func(r *testservers.Redis) string {
		return fmt.Sprintf("%s?prefix=t%d:", r.URL(0), prefixes.Add(1))
	}
	t.Run("redis", func(t *testing.T) {
		r := testservers.StartRedis(t)
		runSuite(t, func(t *testing.T, now func() time.Time) Cache { return shared(t, openURL(t, redisURL(r), now)) })
		t.Run("layered", func(t *testing.T) {
			runSuite(t, func(t *testing.T, now func() time.Time) Cache { return openURL(t, redisURL(r), now) })
		})
		t.Run("SharedBetweenProcesses", func(t *testing.T) { sharedBetweenProcesses(t, redisURL(r)) })
	})
	t.Run("postgres", func(t *testing.T) {
		p := testservers.StartPostgres(t)
		runSuite(t, func(t *testing.T, now func() time.Time) Cache { return shared(t, openURL(t, p.NewDatabase(t), now)) })
		t.Run("layered", func(t *testing.T) {
			runSuite(t, func(t *testing.T, now func() time.Time) Cache { return openURL(t, p.NewDatabase(t), now) })
		})
		t.Run("SharedBetweenProcesses", func(t *testing.T) { sharedBetweenProcesses(t, p.NewDatabase(t)) })
	})
}

// TestSQLitePersists checks that the default backend survives a restart,
// in a file only its owner may read.
func TestSQLitePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	url := "sqlite://" + path
	clk := newClock()
	c := openURL(t, url, clk.Now)
	if err := c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, fi.Mode(), err)
		}
	}
	c.Close()
	c = openURL(t, url, clk.Now)
	defer c.Close()
	if e, err := c.Get(ctx, "example.com"); err != nil || e.ID != "1" {
		t.Fatalf("after reopening: %+v, %v", e, err)
	}
}

// sharedBetweenProcesses checks that two caches on one shared backend
// (two daemons on two MTAs) see each other's entries.
func sharedBetweenProcesses(t *testing.T, url string) {
	ctx := context.Background()
	clk := newClock()
	a, b := openURL(t, url, clk.Now), openURL(t, url, clk.Now)
	defer a.Close()
	defer b.Close()
	if err := a.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Get(ctx, "example.com"); err != nil || e.ID != "1" {
		t.Fatalf("B sees %+v, %v; want A's entry", e, err)
	}
	// B holds id 1 in memory; A stores id 2. After SyncInterval, B
	// reads the shared backend again.
	_ = a.Put(ctx, entry("example.com", "2", clk.Now().Add(time.Second), time.Hour))
	clk.Advance(DefaultSyncInterval)
	if e, err := b.Get(ctx, "example.com"); err != nil || e.ID != "2" {
		t.Fatalf("B sees %+v, %v after the sync interval; want A's newer entry", e, err)
	}
	_ = a.PutNegative(ctx, &Negative{Domain: "none.example", Kind: NoRecord, Created: clk.Now(), Expires: clk.Now().Add(time.Minute)})
	if _, err := b.GetNegative(ctx, "none.example"); err != nil {
		t.Errorf("B does not see A's negative entry: %v", err)
	}
}

// TestSQLiteMissingDirectory checks that a mistyped path fails, naming
// the directory, and creates nothing.
func TestSQLiteMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent", "dir")
	c, err := Open(context.Background(), "sqlite://"+filepath.Join(missing, "x.db"), Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name %s", err, missing)
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); !os.IsNotExist(err) {
		t.Errorf("Open created a directory: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"", "ftp://x", "memory:?size=0", "memory:?size=x", "sqlite://relative/host", "sqlite:",
		"redis://127.0.0.1:1/notanumber", "postgres://[::1", "%zz",
	} {
		if c, err := Open(context.Background(), url, Options{}); err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

// TestSharedDown checks that a shared backend that cannot be reached
// makes the layer unavailable, not empty, and costs no time once known.
func TestSharedDown(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	for _, url := range []string{"redis://127.0.0.1:1/0", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"} {
		c := openURL(t, url, clk.Now)
		if _, err := c.Get(ctx, "example.com"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: Get = %v, want ErrUnavailable", url, err)
		}
		if err := c.Put(ctx, entry("example.com", "1", clk.Now(), time.Hour)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: Put = %v, want ErrUnavailable", url, err)
		}
		if e, err := c.Get(ctx, "example.com"); err != nil || e.ID != "1" {
			t.Errorf("%s: Get after Put = %+v, %v; want the entry from memory", url, e, err)
		}
		if err := c.(Pinger).Ping(ctx); err == nil {
			t.Errorf("%s: Ping succeeded", url)
		}
		c.Close()
	}
}
