package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/enforce"
	"github.com/mtasts/mtasts/resolver"
)

// daemonFlags are the flags of mtasts daemon; each one that is given
// overrides the configuration file.
type daemonFlags struct {
	config        string
	listen        []string
	cache         string
	metrics       string
	maps          []string
	net           netFlags
	postfix       string
	noServername  bool
	tlsrpt        bool
	strictTesting bool
	dane          bool
	recheck       time.Duration
	check         bool
	logLevel      string
	logFormat     string
}

func newDaemonCmd(e *env) *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Serve MTA-STS TLS policies to Postfix over socketmap",
		Long: `Answer Postfix's TLS policy lookups (smtp_tls_policy_maps) with the MTA-STS
policy of each next-hop domain (RFC 8461), over Postfix's socketmap protocol
on TCP or a UNIX socket. Wire Postfix to it with one line of main.cf:

  smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix

Answers: a domain whose policy is in mode enforce gets
"secure match=<MX hosts> servername=hostname", the MX hosts it publishes
that the policy covers, so Postfix delivers only over TLS to them, with a
certificate valid for one of them; none covered, TEMP; testing, none and
no policy get NOTFOUND (Postfix's own TLS settings apply); when DNS fails
and nothing is cached, TEMP, so Postfix defers the mail rather than
sending it with weaker protection. --postfix-version (postconf -h
mail_version) adds what newer Postfix accepts: the TLSRPT attributes from
3.10, MX host names checked by Postfix itself from 3.10.5
(docs/postfix.md).

Policies are cached (--cache, SQLite by default; Redis or PostgreSQL to
share one cache between MTAs) and refreshed before they expire. Settings
come from the [daemon] section of a TOML file (--config; every key is
documented in docs/mtasts.example.toml) and from flags, which win. SIGHUP
reloads the file; SIGTERM or SIGINT stops the daemon after the lookups in
flight are answered.

--check finds what would stop a start, without starting or writing: the
settings, the CA file, the resolver address, the state directory, the
cache (Redis and PostgreSQL connected to), the listen addresses (TCP
bound and closed at once, UNIX sockets not held, except by this daemon
running) and, with [daemon.tlsrpt_send], its key files, report store and
libtlsrpt socket; the systemd unit runs it before each start.

Exit status: 0 stopped by a signal (or --check of a valid configuration),
2 an invalid configuration (--check), 3 could not start or failed.`,
		Example: `  mtasts daemon
  mtasts daemon --listen 127.0.0.1:8461 --listen unix:/run/mtasts/socketmap.sock --metrics 127.0.0.1:9461
  mtasts daemon --config /etc/mtasts/mtasts.toml
  mtasts daemon --config /etc/mtasts/mtasts.toml --check
  postmap -q example.com socketmap:inet:127.0.0.1:8461:postfix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), e, cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "TOML configuration file; its [daemon] section is read")
	fl.BoolVar(&f.check, "check", false, "check what a start needs (settings, files, cache, stores, listen addresses), writing nothing, and exit")
	fl.StringArrayVar(&f.listen, "listen", nil, "address to serve socketmap on, HOST:PORT or unix:/path; repeatable (default 127.0.0.1:8461)")
	fl.StringVar(&f.cache, "cache", "", "policy cache: memory:, sqlite:///path, redis://host/db, postgres://… (default: cache.db in $STATE_DIRECTORY, else in /var/lib/mtasts when writable, else in ~/.local/state/mtasts)")
	fl.StringVar(&f.metrics, "metrics", "", "address to serve Prometheus metrics on, at /metrics (default: none)")
	fl.StringArrayVar(&f.maps, "map", nil, "socketmap name to answer, the last field of Postfix's socketmap:…:NAME; repeatable (default postfix and sts)")
	f.net.register(cmd)
	fl.StringVar(&f.postfix, "postfix-version", "", "release of the Postfix served, such as 3.7 or 3.10.5: replies hold what it accepts (default 3.4)")
	fl.BoolVar(&f.noServername, "no-servername", false, "leave servername=hostname out of policies, for Postfix older than 3.4")
	fl.BoolVar(&f.tlsrpt, "tlsrpt", false, "add the TLSRPT attributes of Postfix 3.10 (policy_type, policy_domain, policy_string, mx_host_pattern)")
	fl.BoolVar(&f.strictTesting, "strict-testing", false, "enforce policies in mode testing too (all domains; zones can set it per domain)")
	fl.BoolVar(&f.dane, "dane", false, "answer \"dane\" for domains whose MX hosts have DNSSEC-signed TLSA records (default: on when the resolver validates DNSSEC; Postfix needs smtp_dns_support_level = dnssec)")
	fl.DurationVar(&f.recheck, "recheck-interval", resolver.DefaultRecheckInterval, "how long a cached policy is answered before its TXT id is compared with DNS again (RFC 8461 §5.1)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	_ = cmd.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// daemonConfigFrom reads the configuration file named by the flags and
// applies the flags that were given on top.
func daemonConfigFrom(e *env, cmd *cobra.Command, f *daemonFlags) (*enforce.Config, error) {
	c, err := enforce.Load(f.config, e.getenv)
	if err != nil {
		return nil, err
	}
	set := cmd.Flags().Changed
	f.net.override(c, set)
	for name, apply := range map[string]func(){
		"listen":           func() { c.Listen = f.listen },
		"cache":            func() { c.Cache = f.cache },
		"metrics":          func() { c.Metrics = f.metrics },
		"map":              func() { c.Maps = f.maps },
		"no-servername":    func() { c.Servername = !f.noServername },
		"postfix-version":  func() { c.PostfixVersion = f.postfix },
		"tlsrpt":           func() { c.TLSRPT = &f.tlsrpt },
		"strict-testing":   func() { c.Zone.StrictTesting = &f.strictTesting },
		"dane":             func() { c.DANE = &f.dane },
		"recheck-interval": func() { c.RecheckInterval = f.recheck },
		"log-level":        func() { c.LogLevel = f.logLevel },
		"log-format":       func() { c.LogFormat = f.logFormat },
	} {
		if set(name) {
			apply()
		}
	}
	return c, c.Validate()
}

// override applies to c the network flags that were given.
func (f *netFlags) override(c *enforce.Config, set func(string) bool) {
	if set("resolver") {
		c.Resolver = f.resolver
	}
	if set("ca-file") {
		c.CAFile = f.caFile
	}
	if set("timeout") {
		c.Timeout = f.timeout
	}
}

// enforceOptions are the options of the enforce service run by e.
func enforceOptions(e *env) enforce.Options {
	return enforce.Options{Log: e.stderr, Now: e.now, Dial: e.dial, Getenv: e.getenv, UserAgent: userAgent()}
}

func runDaemon(ctx context.Context, e *env, cmd *cobra.Command, f *daemonFlags) error {
	cfg, err := daemonConfigFrom(e, cmd, f)
	if err != nil && f.check {
		return &exitError{code: exitErrors, err: err}
	}
	if err != nil {
		return usageError(err)
	}
	o := enforceOptions(e)
	if f.check {
		o.Log = io.Discard
		if err := enforce.Check(ctx, cfg, o); err != nil {
			return &exitError{code: exitErrors, err: err}
		}
		name := f.config
		if name == "" {
			name = "(no file)"
		}
		reports := ""
		if cfg.TLSRPTSend.Enabled {
			reports = ", TLS reports in " + cfg.TLSRPTSend.Store
		}
		_, err := fmt.Fprintf(e.stdout, "%s: configuration valid: listen %s, cache %s%s\n", name, strings.Join(cfg.Listen, " "), cfg.Cache, reports)
		return err
	}
	o.Load = func() (*enforce.Config, error) { return daemonConfigFrom(e, cmd, f) }
	if err := enforce.Run(ctx, cfg, o); err != nil {
		return &exitError{code: exitCannotRun, err: err}
	}
	return nil
}
