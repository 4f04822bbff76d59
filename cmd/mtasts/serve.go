package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/rollout/monitor"
	"github.com/mtasts/mtasts/serve"
)

// serveFlags override settings of the configuration file.
type serveFlags struct {
	config        string
	check         bool
	listenHTTPS   string
	listenHTTP    string
	listenMetrics string
	dataDir       string
	resolver      string
}

func newServeCmd(e *env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Host the MTA-STS policies of many domains over HTTPS",
		Long: `Serve https://mta-sts.DOMAIN/.well-known/mta-sts.txt for every domain of the
configuration file (the [serve] and [[domain]] sections of mtasts.toml), the
way RFC 8461 §3.3 wants it: status 200, text/plain, CRLF line endings, no
redirects, no caching, and a certificate valid for mta-sts.DOMAIN.

Certificates come from files (reloaded when they change) or from an ACME CA
such as Let's Encrypt, for the configured names only (HTTP-01 on the HTTP
listener, TLS-ALPN-01 on the HTTPS one, or with [serve.acme] dns01 = true
DNS-01 records added by RFC 2136 update through [serve.dns_update], for
hosts the CA cannot reach). Expiry is exported as a metric and warned about
14 days ahead.

The policy id is managed for you: a new id whenever a policy's text changes,
kept in the data directory, with the report store unless the file names
another. Relative paths in the file are taken from its directory.
Nothing is written before the server can start: once every listener is
open, the report store is opened, then the policy ids are saved (and
published); a start that fails leaves only the lock file. Publish it in the _mta-sts TXT record ("mtasts
policy records" prints what to publish), or let mtasts update the record by
RFC 2136 dynamic update. With mx = "auto" a policy follows the domain's
live MX records. One server at a time may use a data directory: a second
one refuses to start.

On SIGHUP, or when the file changes, the configuration is loaded again
without dropping connections; an invalid file is refused with its line and
the previous configuration stays in force. SIGINT and SIGTERM shut down
gracefully.

--check finds what a start would, without writing anything: the file,
the certificate files, the data directory, the report store (connecting
to PostgreSQL, and trying the schema migrations in a transaction it
rolls back) and the listen addresses, each bound and closed at once; a
port held while the server of the same data directory runs is not a
problem. The systemd unit runs it before each start.

Exit status: 0 after a clean shutdown (or --check that found nothing),
2 an invalid configuration (or any problem --check found), 3 the server
could not start.`,
		Example: `  mtasts serve --config /etc/mtasts/mtasts.toml
  mtasts serve --config mtasts.toml --check
  mtasts serve --config mtasts.toml --listen-https 127.0.0.1:8443 --listen-http "" --data-dir ./data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), e, cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", serve.DefaultPath, "configuration file")
	fl.BoolVar(&f.check, "check", false, "check the configuration and exit")
	fl.StringVar(&f.listenHTTPS, "listen-https", "", "HTTPS listen address (overrides serve.listen_https)")
	fl.StringVar(&f.listenHTTP, "listen-http", "", `HTTP listen address for ACME HTTP-01, "" to disable (overrides serve.listen_http)`)
	fl.StringVar(&f.listenMetrics, "listen-metrics", "", `metrics listen address, "" to disable (overrides serve.listen_metrics)`)
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (overrides serve.data_dir)")
	fl.StringVar(&f.resolver, "resolver", "", "DNS server for mx \"auto\" lookups, as HOST or HOST:PORT (default: /etc/resolv.conf)")
	return cmd
}

// loadServeConfig reads the configuration file and applies the flags.
func loadServeConfig(cmd *cobra.Command, f *serveFlags) (*serve.Config, error) {
	cfg, err := serve.Load(f.config)
	if err != nil {
		return nil, err
	}
	fl := cmd.Flags()
	override := func(name string, dst *string, v string) {
		if fl.Changed(name) {
			*dst = v
		}
	}
	override("listen-https", &cfg.ListenHTTPS, f.listenHTTPS)
	override("listen-http", &cfg.ListenHTTP, f.listenHTTP)
	override("listen-metrics", &cfg.ListenMetrics, f.listenMetrics)
	override("data-dir", &cfg.DataDir, f.dataDir)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.config, err)
	}
	return cfg, nil
}

func runServe(ctx context.Context, e *env, cmd *cobra.Command, f *serveFlags) error {
	cfg, err := loadServeConfig(cmd, f)
	if err != nil {
		return &exitError{code: exitErrors, err: err}
	}
	if f.check {
		// What a start would find too: files, store, listen addresses.
		if err := serve.Check(ctx, cfg); err != nil {
			return &exitError{code: exitErrors, err: fmt.Errorf("%s: %w", f.config, err)}
		}
		w := &textout.Writer{W: e.stdout}
		w.Printf("%s: configuration valid, %s\n", f.config, textout.Plural(len(cfg.Domains), "domain"))
		for _, d := range cfg.Domains {
			mx := fmt.Sprint(d.MX)
			if d.MXAuto {
				mx += " + auto"
			}
			w.Printf("  %s: mode %s, max_age %d, mx %s\n", d.Domain, d.Mode, d.MaxAge, mx)
		}
		return w.Err
	}
	resolver, err := dnsx.NewFromAddr(f.resolver)
	if err != nil {
		return usageError(fmt.Errorf("DNS resolver: %w", err))
	}
	o := serve.Options{Log: e.stderr, Now: e.now, Getenv: e.getenv, Resolver: resolver, Watcher: monitor.Watch,
		Load: func() (*serve.Config, error) { return loadServeConfig(cmd, f) }}
	if err := serve.Run(ctx, cfg, o); err != nil {
		var ce *serve.ConfigError
		if errors.As(err, &ce) {
			return &exitError{code: exitErrors, err: err}
		}
		return &exitError{code: exitCannotRun, err: err}
	}
	return nil
}
