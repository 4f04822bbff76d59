package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/web"
)

// Reports is the [serve.reports] section: the TLS-RPT endpoint of
// RFC 8460 §5.4, mounted on every mta-sts.<domain> host, so that a domain
// can publish "rua=https://mta-sts.<domain>/tlsrpt".
type Reports struct {
	// Enabled mounts the endpoint.
	Enabled bool
	// Path is where reports are POSTed, such as "/tlsrpt".
	Path string
	// DKIM is the ingest DKIM policy for report mail: "check", "require"
	// or "off".
	DKIM string
	// SMTPListen, if set, is the address of an SMTP (or, with LMTP, an
	// LMTP) listener that receives report mail (RFC 8460 §5.3), so that
	// the rua mailto: address can point straight at mtasts.
	SMTPListen string
	LMTP       bool
	// SMTPDomain is the host name the listener greets with, and the name
	// of its STARTTLS certificate.
	SMTPDomain string
	// SMTPStartTLS offers STARTTLS (RFC 3207) on the listener: with the
	// certificate of SMTPCertFile and SMTPKeyFile if set, else, on an SMTP
	// (not LMTP) listener, with the certificate serve has for SMTPDomain
	// when that is one of its policy hosts.
	SMTPStartTLS bool
	// SMTPCertFile and SMTPKeyFile are a PEM certificate chain valid for
	// SMTPDomain and its key, or both "".
	SMTPCertFile, SMTPKeyFile string
	// Recipients, if set, are the only addresses the listener accepts.
	Recipients []string
	// IMAP, if its Addr is set, is a mailbox polled for report mail.
	IMAP IMAP
	// ReportLimits bound the endpoint and the quarantine.
	ReportLimits
}

// IMAP is the [serve.reports.imap] section: a mailbox that receives
// report mail, read and emptied into the store.
type IMAP struct {
	Addr      string
	Security  string // "tls", "starttls" or "insecure"
	Username  string
	Password  string
	Mailbox   string
	Processed string
	Interval  time.Duration
}

// Dashboard is the [serve.dashboard] section: the report dashboard, behind
// authentication, mounted on every mta-sts.<domain> host.
type Dashboard struct {
	// Enabled mounts the dashboard; it then needs a user or a token.
	Enabled bool
	// Path is where it is mounted, beginning and ending with "/".
	Path string
	// Auth says who may see it.
	Auth web.Auth
}

// Store is where received reports are kept and the dashboard reads them.
type Store struct {
	// URL is a reportstore URL: sqlite:///path.db, sqlite:relative.db or
	// postgres://…; "" means reports.db in the data directory (see
	// Config.StoreURL).
	URL string
}

// usesStore reports whether a part that needs the report store is on:
// the report endpoint, the dashboard or the monitor.
func (c *Config) usesStore() bool {
	return c.Reports.Enabled || c.Dashboard.Enabled || c.Monitor.Enabled
}

// StoreURL returns the URL of the report store: Store.URL if set, else
// the SQLite file reports.db in the data directory, wherever that is
// when the store opens, so that a data directory given after loading
// (mtasts serve --data-dir) takes the store along: everything a server
// owns lives under the directory its lock protects.
func (c *Config) StoreURL() string {
	if c.Store.URL != "" {
		return c.Store.URL
	}
	return "sqlite:" + filepath.ToSlash(filepath.Join(c.DataDir, "reports.db"))
}

type reportsSyntax struct {
	Enabled      bool       `toml:"enabled"`
	Path         string     `toml:"path"`
	DB           string     `toml:"db"`
	DKIM         string     `toml:"dkim"`
	SMTPListen   string     `toml:"smtp_listen"`
	LMTP         bool       `toml:"lmtp"`
	SMTPDomain   string     `toml:"smtp_domain"`
	SMTPStartTLS bool       `toml:"smtp_starttls"`
	SMTPCertFile string     `toml:"smtp_cert_file"`
	SMTPKeyFile  string     `toml:"smtp_key_file"`
	Recipients   []string   `toml:"recipients"`
	IMAP         imapSyntax `toml:"imap"`
	reportLimitsSyntax
}

type imapSyntax struct {
	Addr         string   `toml:"addr"`
	Security     string   `toml:"security"`
	Username     string   `toml:"username"`
	PasswordFile string   `toml:"password_file"`
	Mailbox      string   `toml:"mailbox"`
	Processed    string   `toml:"processed"`
	Interval     duration `toml:"interval"`
}

type dashboardSyntax struct {
	Enabled         bool         `toml:"enabled"`
	Path            string       `toml:"path"`
	Tokens          []string     `toml:"tokens"`
	SessionKeyFile  string       `toml:"session_key_file"`
	SessionLifetime duration     `toml:"session_lifetime"`
	Users           []userSyntax `toml:"user"`
	// The limits of web.LoginLimits; 0 means its default.
	LoginLimitPerClient int      `toml:"login_limit_per_client"`
	LoginLimitPerUser   int      `toml:"login_limit_per_user"`
	LoginLimitWindow    duration `toml:"login_limit_window"`
}

type userSyntax struct {
	Name         string `toml:"name"`
	PasswordHash string `toml:"password_hash"`
}

// reportsConfig turns the [serve.reports] and [serve.dashboard] sections
// into the Config, resolving relative paths with abs and the file of a
// sqlite: store URL with resolveURL.
func (f *fileSyntax) reportsConfig(cfg *Config, abs, resolveURL func(string) string) error {
	r, d := &f.Serve.Reports, &f.Serve.Dashboard
	cfg.Reports = Reports{
		Enabled: r.Enabled, Path: r.Path, DKIM: r.DKIM,
		SMTPListen: r.SMTPListen, LMTP: r.LMTP, SMTPDomain: r.SMTPDomain, Recipients: r.Recipients,
		SMTPStartTLS: r.SMTPStartTLS, SMTPCertFile: abs(r.SMTPCertFile), SMTPKeyFile: abs(r.SMTPKeyFile),
		IMAP: IMAP{Addr: r.IMAP.Addr, Security: r.IMAP.Security, Username: r.IMAP.Username,
			Mailbox: r.IMAP.Mailbox, Processed: r.IMAP.Processed, Interval: r.IMAP.Interval.Duration},
	}
	if r.Enabled && !strings.HasPrefix(r.Path, "/") {
		return &settingError{"serve.reports.path", fmt.Errorf("%q must begin with \"/\"", r.Path)}
	}
	limits, err := r.limits()
	if err != nil {
		return err
	}
	cfg.Reports.ReportLimits = limits
	if err := cfg.Reports.checkSMTPCert(); err != nil {
		return err
	}
	if r.Enabled && r.IMAP.Addr != "" && r.IMAP.PasswordFile != "" {
		pw, err := os.ReadFile(abs(r.IMAP.PasswordFile))
		if err != nil {
			return &settingError{"serve.reports.imap.password_file", err}
		}
		cfg.Reports.IMAP.Password = strings.TrimSpace(string(pw))
	}
	cfg.Store = Store{URL: resolveURL(r.DB)}
	cfg.Dashboard = Dashboard{Enabled: d.Enabled, Path: d.Path}
	if !d.Enabled {
		return nil
	}
	auth := web.Auth{Tokens: d.Tokens, SessionLifetime: d.SessionLifetime.Duration,
		Limits: web.LoginLimits{PerClient: d.LoginLimitPerClient, PerUser: d.LoginLimitPerUser, Window: d.LoginLimitWindow.Duration}}
	if d.LoginLimitPerClient < 0 || d.LoginLimitPerUser < 0 {
		return errors.New("serve.dashboard: login_limit_per_client and login_limit_per_user must not be negative")
	}
	for i, u := range d.Users {
		if u.Name == "" || u.PasswordHash == "" {
			return fmt.Errorf("serve.dashboard.user[%d]: name and password_hash are required (make a hash with \"mtasts web hash-password\")", i)
		}
		auth.Users = append(auth.Users, web.User{Name: u.Name, PasswordHash: u.PasswordHash})
	}
	if len(auth.Users) == 0 && len(auth.Tokens) == 0 {
		return fmt.Errorf("serve.dashboard: enabled without any user or token; there is no anonymous access")
	}
	if d.SessionKeyFile != "" {
		key, err := os.ReadFile(abs(d.SessionKeyFile))
		if err != nil {
			return &settingError{"serve.dashboard.session_key_file", err}
		}
		auth.SessionKey = []byte(strings.TrimSpace(string(key)))
	}
	cfg.Dashboard.Auth = auth
	return nil
}

// checkSMTPCert checks the certificate files of the report mail listener:
// both or neither, and, when the listener uses them, loadable and valid
// for SMTPDomain.
func (r *Reports) checkSMTPCert() error {
	const certKey, keyKey = "serve.reports.smtp_cert_file", "serve.reports.smtp_key_file"
	switch {
	case r.SMTPCertFile == "" && r.SMTPKeyFile == "":
		return nil
	case r.SMTPKeyFile == "":
		return &settingError{certKey, errors.New("set without smtp_key_file: give both, or neither to use the certificate of a policy host")}
	case r.SMTPCertFile == "":
		return &settingError{keyKey, errors.New("set without smtp_cert_file: give both, or neither to use the certificate of a policy host")}
	case !r.Enabled || r.SMTPListen == "" || !r.SMTPStartTLS:
		return nil
	case r.SMTPDomain == "":
		return &settingError{certKey, errors.New("smtp_domain is not set: it is the name the certificate must be valid for")}
	}
	for _, kp := range [][2]string{{certKey, r.SMTPCertFile}, {keyKey, r.SMTPKeyFile}} {
		f, err := os.Open(kp[1])
		if err != nil {
			return &settingError{kp[0], err}
		}
		f.Close()
	}
	if _, err := policyhost.LoadCertFile(r.SMTPDomain, r.SMTPCertFile, r.SMTPKeyFile, nil); err != nil {
		return &settingError{certKey, err}
	}
	return nil
}

// defaultReports are the settings of a file without these sections.
func defaultReports() (reportsSyntax, dashboardSyntax) {
	return reportsSyntax{Path: "/tlsrpt", DKIM: "check", SMTPStartTLS: true, IMAP: imapSyntax{Security: "tls", Interval: duration{5 * time.Minute}},
		reportLimitsSyntax: defaultReportLimits()}, dashboardSyntax{Path: "/dashboard/", SessionLifetime: duration{12 * time.Hour}}
}
