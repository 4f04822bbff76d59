package enforce

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/internal/tomlconf"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/socketmap"
)

// Check finds what would keep the service of cfg from starting, as far
// as that can be found without starting, and changes nothing: "mtasts
// daemon --check", which the systemd unit runs before each start. It
// checks
//
//   - the settings (Validate), the DNS resolver address and the CA file;
//   - the default state directory, when the cache is in it: it exists and
//     is writable, or can be created;
//   - the cache: see cache.Check (Redis and PostgreSQL are connected to,
//     and the PostgreSQL schema is created in a transaction rolled back);
//   - with [daemon.tlsrpt_send] on, the report store (reportstore.Check)
//     and the libtlsrpt socket: its directory is writable and no running
//     process holds the path;
//   - the listen addresses (listen, exim_listen, metrics): a TCP address
//     is bound, all of them at once, and closed; a UNIX socket's directory
//     is writable and no running process listens on the path.
//
// While the daemon of cfg runs (it answers a socketmap lookup on one of
// its listen addresses), the addresses and sockets in use are not errors:
// they are its own, and a restart frees them. Every problem is returned,
// joined.
func Check(ctx context.Context, cfg *Config, o Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	o = o.withDefaults()
	var errs []error
	if r, err := newResolver(cfg, &o, cache.NewMemory(1, o.Now), slog.New(slog.DiscardHandler), nil); err != nil {
		errs = append(errs, err)
	} else {
		r.Close()
	}
	running := cfg.daemonRuns(ctx)
	errs = append(errs, cfg.checkStorage(ctx, running)...)
	errs = append(errs, cfg.checkListeners(running)...)
	return errors.Join(errs...)
}

// checkMap is the socketmap name that daemonRuns asks for: no daemon
// serves it, and each answers it with socketmap.UnknownMap.
const checkMap = "mtasts-check"

// daemonRuns tells whether a daemon answers socketmap lookups on one of
// the listen addresses of c, as the daemon of c does while it runs; the
// sockets in use are then its own, which a restart frees.
func (c *Config) daemonRuns(ctx context.Context) bool {
	want := socketmap.UnknownMap(checkMap).String()
	for _, s := range c.Listen {
		a, _ := parseListenAddr(s) // checked by Validate
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		client, err := socketmap.Dial(ctx, a.network, a.addr)
		if err == nil {
			r, err := client.Lookup(ctx, checkMap, "check")
			client.Close()
			if err == nil && r.String() == want {
				cancel()
				return true
			}
		}
		cancel()
	}
	return false
}

// checkStorage checks the state directory, the cache and, with TLS
// reports on, the report store and the libtlsrpt socket. A store in the
// default state directory, which a start creates before opening it,
// needs no more than the directory's check while it does not exist.
func (c *Config) checkStorage(ctx context.Context, running bool) []error {
	var errs []error
	willMake := false // the state directory is missing and a start makes it
	if c.defaultCache() {
		if err := statedir.Creatable(c.stateDir); err != nil {
			errs = append(errs, fmt.Errorf("state directory: %w", err))
		}
		willMake = statedir.Exists(c.stateDir) != nil
	}
	inMade := func(url string) bool {
		return willMake && url == "sqlite://"+filepath.Join(c.stateDir, filepath.Base(url))
	}
	if c.Cache != "" && !inMade(c.Cache) {
		if err := cache.Check(ctx, c.Cache); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.TLSRPTSend.Enabled {
		return errs
	}
	if !inMade(c.TLSRPTSend.Store) {
		if err := reportstore.Check(ctx, c.TLSRPTSend.Store); err != nil {
			errs = append(errs, fmt.Errorf("TLS report store: %w", err))
		}
	}
	if p := c.TLSRPTSend.LibTLSRPTSocket; p != "" {
		if err := checkSocketPath("unixgram", p); err != nil && !(running && errors.Is(err, errSocketHeld)) {
			errs = append(errs, tomlconf.Setting(err, "daemon", "tlsrpt_send", "libtlsrpt_socket"))
		}
	}
	return errs
}

// checkListeners checks that a start could listen on each listen
// address, binding the TCP ones together (so that an address given twice
// is found) and closing them. While the daemon runs, the addresses and
// sockets it holds are not errors.
func (c *Config) checkListeners(running bool) []error {
	var errs []error
	var open []net.Listener
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	bind := func(key, addr string, check func() (net.Listener, error)) {
		l, err := check()
		if running && (errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, errSocketHeld)) {
			return
		}
		if err != nil {
			errs = append(errs, tomlconf.Setting(fmt.Errorf("%s: %w", addr, err), "daemon", key))
		} else if l != nil {
			open = append(open, l)
		}
	}
	for i, list := range [][]string{c.Listen, c.EximListen} {
		for _, s := range list {
			a, _ := parseListenAddr(s) // checked by Validate
			bind([]string{"listen", "exim_listen"}[i], s, func() (net.Listener, error) {
				if a.network == "unix" {
					return nil, checkSocketPath("unix", a.addr)
				}
				return net.Listen("tcp", a.addr)
			})
		}
	}
	if c.Metrics != "" {
		bind("metrics", c.Metrics, func() (net.Listener, error) { return net.Listen("tcp", c.Metrics) })
	}
	return errs
}

// errSocketHeld says that a running process holds a UNIX socket.
var errSocketHeld = errors.New("a running process holds this socket")

// checkSocketPath checks, without binding, that a start could bind a
// UNIX socket of network ("unix" or "unixgram") at path: its directory
// is writable, and path is missing or a socket that no process holds,
// which a start replaces. A stream socket's path must not be another
// kind of file (socketmap.Listen leaves it); the libtlsrpt socket's
// replaces whatever is there (tlsrptsend.DatagramSocket).
func checkSocketPath(network, path string) error {
	if err := statedir.Writable(filepath.Dir(path)); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		if network == "unix" {
			return fmt.Errorf("%s exists and is not a socket", path)
		}
		return nil
	}
	conn, err := net.DialTimeout(network, path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%s: %w", path, errSocketHeld)
	}
	if network == "unix" && !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: cannot tell whether the socket is stale: %w", path, err)
	}
	return nil
}
