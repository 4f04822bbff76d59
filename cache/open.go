package cache

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/mtasts/mtasts/internal/sqlitefile"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DefaultURL is the cache the daemon uses when none is configured.
const DefaultURL = "sqlite:///var/lib/mtasts/cache.db"

// Options configure Open.
type Options struct {
	// Now is the clock that decides expiry; nil means time.Now. A
	// resolver using the cache must use the same clock.
	Now func() time.Time
	// MemorySize bounds the memory backend, and the memory layer in front
	// of the others; 0 means DefaultMemorySize. The "size" parameter of a
	// memory: URL overrides it.
	MemorySize int
	// Layer tunes the memory layer in front of persistent backends; its
	// Now is taken from Options.Now.
	Layer LayerOptions
}

// Pinger is implemented by caches that can check their backend: Layered
// and the caches Open returns for persistent backends.
type Pinger interface {
	// Ping checks that the backend answers (and, for SQL, holds the
	// schema).
	Ping(ctx context.Context) error
}

// Open returns the cache named by rawURL (see the package documentation
// for the forms). Persistent backends come behind a memory layer: the
// result is then a *Layered. Open does not contact Redis or PostgreSQL, so
// that a process can start while they are down; use Ping to check them.
// It creates the SQLite file, readable by its owner only, if it does not
// exist; its directory must.
func Open(ctx context.Context, rawURL string, o Options) (Cache, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache: URL %q: %w", rawURL, err)
	}
	var shared Cache
	switch u.Scheme {
	case "memory":
		size, err := memorySize(u, o.MemorySize)
		if err != nil {
			return nil, err
		}
		return NewMemory(size, o.Now), nil
	case "sqlite":
		shared, err = openSQLite(ctx, u, o.Now)
	case "redis", "rediss":
		shared, err = openRedis(u, o.Now)
	case "postgres", "postgresql":
		shared, err = openPostgres(rawURL, o.Now)
	default:
		return nil, fmt.Errorf("cache: URL %q: unknown scheme %q (want memory:, sqlite:, redis:, rediss:, postgres:)", rawURL, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	lo := o.Layer
	lo.Now = o.Now
	return NewLayered(NewMemory(o.MemorySize, o.Now), shared, lo), nil
}

// Ping implements Pinger: it checks the shared backend, if it can.
func (l *Layered) Ping(ctx context.Context) error {
	if p, ok := l.shared.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// openSQLite opens sqlite:///abs/path or sqlite:rel/path, creating the
// file (see sqlitefile.Prepare) and the schema.
func openSQLite(ctx context.Context, u *url.URL, now func() time.Time) (*sqlStore, error) {
	path, err := sqlitePath(u)
	if err != nil {
		return nil, err
	}
	if err := sqlitefile.Prepare(path); err != nil {
		return nil, fmt.Errorf("cache: sqlite %s: %w", path, err)
	}
	dsn, err := sqlitefile.DSN(path, "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("cache: sqlite %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("cache: sqlite: %w", err)
	}
	// One connection: SQLite has one writer at a time anyway, and the
	// memory layer in front takes the reads.
	db.SetMaxOpenConns(1)
	s := &sqlStore{db: db, now: now, name: "sqlite " + path}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// memorySize returns the "size" parameter of a memory: URL, def if none.
func memorySize(u *url.URL, def int) (int, error) {
	s := u.Query().Get("size")
	if s == "" {
		return def, nil
	}
	size, err := strconv.Atoi(s)
	if err != nil || size < 1 {
		return 0, fmt.Errorf("cache: URL %q: size must be a positive number", u.Redacted())
	}
	return size, nil
}

// sqlitePath returns the file of a sqlite: URL (sqlitefile.Path).
func sqlitePath(u *url.URL) (string, error) {
	path, err := sqlitefile.Path(u)
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return path, nil
}

// openRedis opens a redis:// or rediss:// URL. The parameter "prefix"
// (default DefaultRedisPrefix) begins every key; the others are go-redis's
// (such as db, dial_timeout, max_retries), with a timeout of a second and
// no retries by default.
func openRedis(u *url.URL, now func() time.Time) (*redisStore, error) {
	q := u.Query()
	prefix := DefaultRedisPrefix
	if q.Has("prefix") {
		prefix = q.Get("prefix")
		q.Del("prefix")
	}
	c := *u
	c.RawQuery = q.Encode()
	opts, err := redis.ParseURL(c.String())
	if err != nil {
		return nil, fmt.Errorf("cache: URL %q: %w", u.Redacted(), err)
	}
	// A cache lookup sits in the path of every message: fail fast and let
	// the memory layer answer, unless the URL says otherwise.
	if !q.Has("max_retries") {
		opts.MaxRetries = -1
	}
	for param, d := range map[string]*time.Duration{"dial_timeout": &opts.DialTimeout, "read_timeout": &opts.ReadTimeout, "write_timeout": &opts.WriteTimeout} {
		if !q.Has(param) {
			*d = redisTimeout
		}
	}
	return &redisStore{client: redis.NewClient(opts), prefix: prefix, now: now}, nil
}

// redisTimeout bounds dialling, reading and writing of the Redis backend
// unless the URL sets them.
const redisTimeout = time.Second

// pgMaxConns bounds the connections of one process to PostgreSQL.
const pgMaxConns = 4

// pgLockKey identifies the advisory lock that serialises schema creation.
const pgLockKey = 8461_0001

// openPostgres opens a postgres:// URL with pgx (any libpq parameter
// works, such as sslmode or search_path).
func openPostgres(rawURL string, now func() time.Time) (*sqlStore, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache: postgres URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// The memory layer takes the reads: a few connections suffice, and
	// many daemons share the server.
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	name := "postgres " + strings.TrimSpace(cfg.Host+" "+cfg.Database)
	return &sqlStore{db: db, now: now, name: name, lock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", pgLockKey)}, nil
}
