package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
)

// Check finds what would keep cfg from starting, as far as that can be
// found without starting, and changes nothing: "mtasts serve --check",
// which the systemd unit runs before each start. It checks
//
//   - the certificate files, as a start loads them;
//   - the data directory: it exists and is writable, or can be created,
//     and its policy state file, if any, reads;
//   - the report store, if a part that needs it is on: see
//     reportstore.Check (a PostgreSQL server is connected to, and the
//     migrations are applied in a transaction rolled back);
//   - the listen addresses: each parses and can be bound now. Check binds
//     each and closes it at once. A port in use is not an error while
//     the server of the same data directory runs and holds its lock: that
//     server holds the port, and a restart frees it.
//
// Every problem is returned, joined.
func Check(ctx context.Context, cfg *Config) error {
	errs := []error{cfg.CheckCertFiles()}
	if err := statedir.Creatable(cfg.DataDir); err != nil {
		errs = append(errs, fmt.Errorf("data directory: %w", err))
	} else if _, err := policyhost.OpenState(cfg.DataDir, nil); err != nil {
		errs = append(errs, err)
	}
	if cfg.usesStore() {
		if err := checkStore(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("report store: %w", err))
		}
	}
	_, running := policyhost.DataDirHolder(cfg.DataDir)
	for _, l := range cfg.listenAddrs() {
		if err := checkListen(l.addr, running); err != nil {
			errs = append(errs, &settingError{Key: l.key, Err: err})
		}
	}
	return errors.Join(errs...)
}

// checkStore checks the report store. The default store is in the data
// directory, which a start creates first: if it does not exist yet,
// that it can be created is enough.
func checkStore(ctx context.Context, cfg *Config) error {
	if cfg.Store.URL == "" {
		if err := statedir.Exists(cfg.DataDir); err != nil {
			return nil // Creatable(DataDir) has been checked
		}
	}
	return reportstore.Check(ctx, cfg.StoreURL())
}

// listenAddr is a listen address of the configuration and its setting.
type listenAddr struct{ key, addr string }

// listenAddrs returns the addresses a start listens on.
func (c *Config) listenAddrs() []listenAddr {
	ls := []listenAddr{{"serve.listen_https", c.ListenHTTPS}, {"serve.listen_http", c.ListenHTTP}, {"serve.listen_metrics", c.ListenMetrics}}
	if c.Reports.Enabled {
		ls = append(ls, listenAddr{"serve.reports.smtp_listen", c.Reports.SMTPListen})
	}
	out := ls[:0]
	for _, l := range ls {
		if l.addr != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkListen checks that a start could listen on addr: that it parses
// as HOST:PORT and that it can be bound now, unless it is in use while
// running says that the server of this data directory runs.
func checkListen(addr string, running bool) error {
	if _, err := net.ResolveTCPAddr("tcp", addr); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) && running {
		return nil
	}
	if err != nil {
		return err
	}
	return l.Close()
}
