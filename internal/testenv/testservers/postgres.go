package testservers

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running PostgreSQL server whose superuser "postgres" logs
// in without a password.
type Postgres struct {
	// Addr is "127.0.0.1:port".
	Addr string
}

// URL returns the URL of database db as the superuser.
func (p *Postgres) URL(db string) string {
	return "postgres://postgres@" + p.Addr + "/" + db + "?sslmode=disable"
}

// pgGlobs are where Debian installs the PostgreSQL server programs.
const pgGlobs = "/usr/lib/postgresql/*/bin/"

// StartPostgres runs initdb and starts postgres on a free port of
// 127.0.0.1, with its data in a temporary directory and durability turned
// off for speed. As root, both run as the "postgres" user, which must
// exist (the postgresql package creates it). Starting takes a second or
// two, so a test that needs several databases should start one server and
// call NewDatabase. See the package documentation for what happens when
// PostgreSQL is not installed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	initdb := lookPath("initdb", pgGlobs+"initdb")
	postgres := lookPath("postgres", pgGlobs+"postgres")
	if initdb == "" || postgres == "" {
		missing(t, "PostgreSQL (initdb, postgres)", "postgresql")
	}
	base, cred := pgBaseDir(t)
	data := filepath.Join(base, "data")

	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testservers: initdb: %v\n%s", err, out)
	}

	port := freePort(t)
	cmd = exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", base,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	// SIGINT is PostgreSQL's fast shutdown.
	s := start(t, cmd, filepath.Join(base, "postgres.log"), syscall.SIGINT)
	p := &Postgres{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.waitReady(t, "postgres", func() error { return p.exec(context.Background(), "SELECT 1") })
	return p
}

// pgBaseDir makes a temporary directory that the server's user owns,
// removed at cleanup, and returns it with the credentials to run the
// server programs with (nil when not root). t.TempDir is not used: its
// parents are private to root.
func pgBaseDir(t testing.TB) (string, *syscall.Credential) {
	t.Helper()
	base, err := os.MkdirTemp("", "mtasts-pg-")
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if os.Geteuid() != 0 {
		return base, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("testservers: running as root, PostgreSQL must run as the user \"postgres\": %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if err := os.Chown(base, int(uid), int(gid)); err != nil {
		t.Fatalf("testservers: %v", err)
	}
	return base, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// exec runs one statement in the database "postgres".
func (p *Postgres) exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// databases numbers the databases made by NewDatabase.
var databases atomic.Uint64

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", databases.Add(1))
	if err := p.exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testservers: creating database %s: %v", name, err)
	}
	return p.URL(name)
}
