package serve

import (
	"cmp"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"
)

// Monitor is the [serve.monitor] section: the watch that "mtasts serve"
// keeps over every domain it serves (package rollout/monitor), and where
// its alerts go. When several servers share one PostgreSQL store, one of
// them watches at a time.
type Monitor struct {
	// Enabled runs the monitor; it needs the report store.
	Enabled bool
	// Interval is how often each domain is checked; the checks of one
	// round are spread over it.
	Interval time.Duration
	// Resolver is the DNS server the checks ask ("" for the system's);
	// CAFile a PEM file of the roots they trust ("" for the system's).
	Resolver string
	CAFile   string
	// MonitorThresholds tune the conditions.
	MonitorThresholds
	// Email, Webhooks and Alertmanagers are where alerts go.
	Email         *MonitorEmail
	Webhooks      []MonitorWebhook
	Alertmanagers []string
}

// MonitorThresholds tune the monitor's conditions.
type MonitorThresholds struct {
	// CertWarning and CertCritical are how long before it expires a
	// certificate (of a policy host or an MX host) raises a warning and
	// a critical alert.
	CertWarning, CertCritical time.Duration
	// FailureRate is the share of failed sessions (RFC 8460 §4.4) above
	// which the TLS reports of the last FailureWindow raise an alert, once
	// they count at least MinSessions sessions.
	FailureRate   float64
	FailureWindow time.Duration
	MinSessions   int64
	// Baseline is the window before FailureWindow whose result types are
	// known: a result type reported in FailureWindow and not in Baseline
	// is new.
	Baseline time.Duration
	// ReadyFor is how long a domain may stay in mode testing with a ready
	// verdict before it raises an alert.
	ReadyFor time.Duration
}

// WithDefaults returns th with its zero fields set to those of
// DefaultMonitor.
func (th MonitorThresholds) WithDefaults() MonitorThresholds {
	d := DefaultMonitor().MonitorThresholds
	th.CertWarning = cmp.Or(th.CertWarning, d.CertWarning)
	th.CertCritical = cmp.Or(th.CertCritical, d.CertCritical)
	th.FailureRate = cmp.Or(th.FailureRate, d.FailureRate)
	th.FailureWindow = cmp.Or(th.FailureWindow, d.FailureWindow)
	th.MinSessions = cmp.Or(th.MinSessions, d.MinSessions)
	th.Baseline = cmp.Or(th.Baseline, d.Baseline)
	th.ReadyFor = cmp.Or(th.ReadyFor, d.ReadyFor)
	return th
}

// MonitorEmail is the [serve.monitor.email] section: alerts by mail,
// submitted (RFC 6409) with STARTTLS and, if a username is set, AUTH.
type MonitorEmail struct {
	// Server is "host:port" of the submission server.
	Server string
	// StartTLS is "required" (the default) or "none" (for a relay on
	// the same host only).
	StartTLS           string
	Username, Password string
	From               string
	To                 []string
}

// MonitorWebhook is one [[serve.monitor.webhook]]: alerts POSTed as JSON.
type MonitorWebhook struct {
	URL string
	// Format is "json" (the alert as mtasts describes it) or "slack" (a
	// body with a "text" field, which Slack and Mattermost accept).
	Format string
}

type monitorSyntax struct {
	Enabled       bool                   `toml:"enabled"`
	Interval      duration               `toml:"interval"`
	Resolver      string                 `toml:"resolver"`
	CAFile        string                 `toml:"ca_file"`
	CertWarning   duration               `toml:"cert_warning"`
	CertCritical  duration               `toml:"cert_critical"`
	FailureRate   float64                `toml:"failure_rate"`
	FailureWindow duration               `toml:"failure_window"`
	MinSessions   int64                  `toml:"min_sessions"`
	Baseline      duration               `toml:"baseline"`
	ReadyFor      duration               `toml:"testing_ready_for"`
	Email         *monitorEmailSyntax    `toml:"email"`
	Webhooks      []monitorWebhookSyntax `toml:"webhook"`
	Alertmanagers []string               `toml:"alertmanagers"`
}

type monitorEmailSyntax struct {
	Server       string   `toml:"server"`
	StartTLS     string   `toml:"starttls"`
	Username     string   `toml:"username"`
	PasswordFile string   `toml:"password_file"`
	From         string   `toml:"from"`
	To           []string `toml:"to"`
}

type monitorWebhookSyntax struct {
	URL    string `toml:"url"`
	Format string `toml:"format"`
}

// DefaultMonitor returns the [serve.monitor] settings of a file that
// sets none.
func DefaultMonitor() Monitor {
	const day = 24 * time.Hour
	return Monitor{Interval: time.Hour, MonitorThresholds: MonitorThresholds{
		CertWarning:   14 * day,
		CertCritical:  3 * day,
		FailureRate:   0.05,
		FailureWindow: 2 * day,
		MinSessions:   100,
		Baseline:      30 * day,
		ReadyFor:      14 * day,
	}}
}

// defaultMonitor is DefaultMonitor as written in the file.
func defaultMonitor() monitorSyntax {
	d := DefaultMonitor()
	return monitorSyntax{
		Interval:      duration{d.Interval},
		CertWarning:   duration{d.CertWarning},
		CertCritical:  duration{d.CertCritical},
		FailureRate:   d.FailureRate,
		FailureWindow: duration{d.FailureWindow},
		MinSessions:   d.MinSessions,
		Baseline:      duration{d.Baseline},
		ReadyFor:      duration{d.ReadyFor},
	}
}

// monitorConfig turns the [serve.monitor] section into cfg.Monitor,
// resolving relative paths with abs.
func (f *fileSyntax) monitorConfig(cfg *Config, abs func(string) string) error {
	m := &f.Serve.Monitor
	cfg.Monitor = Monitor{
		Enabled: m.Enabled, Interval: m.Interval.Duration, Resolver: m.Resolver, CAFile: abs(m.CAFile), Alertmanagers: m.Alertmanagers,
		MonitorThresholds: MonitorThresholds{CertWarning: m.CertWarning.Duration, CertCritical: m.CertCritical.Duration,
			FailureRate: m.FailureRate, FailureWindow: m.FailureWindow.Duration, MinSessions: m.MinSessions,
			Baseline: m.Baseline.Duration, ReadyFor: m.ReadyFor.Duration},
	}
	var errs []error
	if m.Interval.Duration < time.Second {
		errs = append(errs, &settingError{"serve.monitor.interval", fmt.Errorf("%s is shorter than a second", m.Interval.Duration)})
	}
	if m.CertCritical.Duration > m.CertWarning.Duration {
		errs = append(errs, &settingError{"serve.monitor.cert_critical", fmt.Errorf("%s is longer than cert_warning (%s)", m.CertCritical.Duration, m.CertWarning.Duration)})
	}
	if m.FailureRate <= 0 || m.FailureRate > 1 {
		errs = append(errs, &settingError{"serve.monitor.failure_rate", fmt.Errorf("%v is not a share above 0 and at most 1", m.FailureRate)})
	}
	for i, u := range m.Alertmanagers {
		if err := httpURL(u); err != nil {
			errs = append(errs, &settingError{fmt.Sprintf("serve.monitor.alertmanagers[%d]", i), err})
		}
	}
	for i, w := range m.Webhooks {
		if w.Format == "" {
			w.Format = "json"
		}
		if err := httpURL(w.URL); err != nil {
			errs = append(errs, fmt.Errorf("serve.monitor.webhook[%d]: url: %w", i, err))
		}
		if w.Format != "json" && w.Format != "slack" {
			errs = append(errs, fmt.Errorf("serve.monitor.webhook[%d]: format %q is neither \"json\" nor \"slack\"", i, w.Format))
		}
		cfg.Monitor.Webhooks = append(cfg.Monitor.Webhooks, MonitorWebhook(w))
	}
	if e := m.Email; e != nil {
		email, err := e.config(abs)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Monitor.Email = email
	}
	return errors.Join(errs...)
}

// config checks the [serve.monitor.email] section and reads its password.
func (e *monitorEmailSyntax) config(abs func(string) string) (*MonitorEmail, error) {
	out := &MonitorEmail{Server: e.Server, StartTLS: e.StartTLS, Username: e.Username, From: e.From, To: e.To}
	if out.StartTLS == "" {
		out.StartTLS = "required"
	}
	switch {
	case !strings.Contains(e.Server, ":"):
		return nil, &settingError{"serve.monitor.email.server", fmt.Errorf("%q is not host:port", e.Server)}
	case out.StartTLS != "required" && out.StartTLS != "none":
		return nil, &settingError{"serve.monitor.email.starttls", fmt.Errorf("%q is neither \"required\" nor \"none\"", e.StartTLS)}
	case len(e.To) == 0:
		return nil, &settingError{"serve.monitor.email.to", errors.New("no recipient")}
	}
	for _, a := range append([]string{e.From}, e.To...) {
		if _, err := mail.ParseAddress(a); err != nil {
			return nil, &settingError{"serve.monitor.email", fmt.Errorf("address %q: %w", a, err)}
		}
	}
	if e.PasswordFile != "" {
		pw, err := os.ReadFile(abs(e.PasswordFile))
		if err != nil {
			return nil, &settingError{"serve.monitor.email.password_file", err}
		}
		out.Password = strings.TrimSpace(string(pw))
	}
	return out, nil
}

// httpURL checks that u is an http or https URL with a host.
func httpURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", u)
	}
	return nil
}
