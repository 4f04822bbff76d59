// Package serve is the service of "mtasts serve", the policy host and
// report collector. Run (or New, Listen and Serve) hosts the MTA-STS
// policies of the configured domains (package policyhost) and mounts on
// the same server, as configured, the TLS-RPT endpoint of RFC 8460 §5.4
// (package ingest) and the report dashboard (package web), with a report
// mail listener and an IMAP poller, all over one report store; it reloads
// the configuration on SIGHUP and when the file changes.
//
// Load reads the [serve] and [[domain]] sections of
// mtasts.toml into a Config, around the policyhost.Config it serves, with
// the settings of reports, the dashboard and their store. Other sections
// of the file (such as [daemon]) belong to other commands and are
// ignored; an unknown key inside these sections is an error, since a
// misspelt setting in a security policy must not pass silently. Errors
// name the file and line, and for a domain its name (package tomlconf),
// so that "mtasts serve" can refuse a bad file with a clear message and
// keep serving the last good one.
package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/internal/statedir"
	"github.com/mtasts/mtasts/internal/tomlconf"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/sts"
)

// DefaultPath is where "mtasts serve" looks for its configuration.
const DefaultPath = "/etc/mtasts/mtasts.toml"

// Config is the serve configuration: what policyhost serves, plus the
// settings of the command itself.
type Config struct {
	policyhost.Config
	// Path is the file the configuration was read from.
	Path string
	// ConfigCheck is how often the file is checked for changes, which are
	// then loaded as on SIGHUP; 0 turns the check off.
	ConfigCheck time.Duration
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// LogFormat is "json" or "text".
	LogFormat string
	// Reports configures the TLS-RPT endpoint, Dashboard the report
	// dashboard, and Store where both keep the reports.
	Reports   Reports
	Dashboard Dashboard
	Store     Store
	// Monitor configures the watch over the served domains.
	Monitor Monitor

	// defaultDataDir is the data directory the file left to the default,
	// and stateNote, if not "", why it is not the system's: New says it
	// if the data directory is still that one.
	defaultDataDir, stateNote string
}

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no configuration of mtasts serve there (docs/mtasts.example.toml documents one; --config names another file)", err)
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads and checks a configuration; name is used in messages and
// relative paths in it are taken from name's directory. Every problem is
// reported, each as "name:line: ...", joined with errors.Join.
func Parse(name string, data []byte) (*Config, error) {
	file := tomlconf.New(name, data)
	var f fileSyntax
	f.Serve = defaults()
	var errs []error
	if err := file.Decode(&f); err != nil {
		if !errors.Is(err, tomlconf.ErrUnknownSetting) {
			return nil, err
		}
		errs = append(errs, err) // f is complete: go on, to report all
	}
	var stateNote string
	if !file.Defined("serve", "data_dir") {
		// Not configured: the default state directory, the user's if
		// the system's cannot be used (package statedir).
		f.Serve.DataDir, stateNote = statedir.Default(statedir.System, os.Getenv)
	}
	cfg, err := f.config(file.Resolve, file.ResolveSQLite)
	if err == nil && stateNote != "" {
		cfg.defaultDataDir, cfg.stateNote = cfg.DataDir, stateNote
	}
	if err != nil {
		errs = append(errs, locate(file, err))
	} else if err := cfg.Validate(); err != nil {
		errs = append(errs, locate(file, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg.Path = name
	return cfg, nil
}

// settingError is a problem with one setting of the [serve] section,
// named as written in the file ("serve.reports.smtp_cert_file"), so that
// locate can give its line.
type settingError struct {
	Key string
	Err error
}

func (e *settingError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *settingError) Unwrap() error { return e.Err }

// SettingKey names the setting for tomlconf.File.Locate.
func (e *settingError) SettingKey() string { return e.Key }

// locate prefixes each error of a config or Validate result with the file
// and, where known, the line.
func locate(file *tomlconf.File, err error) error {
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	out := make([]error, 0, len(parts))
	for _, e := range parts {
		var de *policyhost.DomainError
		if errors.As(e, &de) {
			key := de.Key
			if key == "domain" {
				key = "name"
			}
			out = append(out, &tomlconf.Error{File: file.Name, Line: file.Line("domain", strconv.Itoa(de.Index), key), Err: e})
			continue
		}
		// policyhost names the settings of [serve] without the section.
		var pe *policyhost.SettingError
		if errors.As(e, &pe) {
			e = &settingError{Key: "serve." + pe.Key, Err: pe.Err}
		}
		out = append(out, e)
	}
	return file.Locate(errors.Join(out...))
}

// config turns the decoded file into a Config, resolving relative paths
// with abs and sqlite: URLs of relative files with resolveURL. Its errors
// are for locate.
func (f *fileSyntax) config(abs, resolveURL func(string) string) (*Config, error) {
	s := &f.Serve
	cfg := &Config{ConfigCheck: s.ConfigCheck.Duration, LogFormat: s.LogFormat}
	if err := cfg.LogLevel.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return nil, &settingError{"serve.log_level", err}
	}
	if s.LogFormat != "json" && s.LogFormat != "text" {
		return nil, &settingError{"serve.log_format", fmt.Errorf("%q is neither \"json\" nor \"text\"", s.LogFormat)}
	}
	secret := s.DNSUpdate.TSIGSecret
	if s.DNSUpdate.TSIGSecretFile != "" && s.DNSUpdate.Server != "" {
		b, err := os.ReadFile(abs(s.DNSUpdate.TSIGSecretFile))
		if err != nil {
			return nil, &settingError{"serve.dns_update.tsig_secret_file", err}
		}
		secret = strings.TrimSpace(string(b))
	}
	pc := policyhost.Config{
		ListenHTTPS:   s.ListenHTTPS,
		ListenHTTP:    s.ListenHTTP,
		ListenMetrics: s.ListenMetrics,
		DataDir:       abs(s.DataDir),
		AccessLog:     s.AccessLog,
		Limits: policyhost.Limits{
			MaxConns:          s.Limits.MaxConns,
			MaxConnsPerIP:     s.Limits.MaxConnsPerIP,
			ReadHeaderTimeout: s.Limits.ReadHeaderTimeout.Duration,
			ReadTimeout:       s.Limits.ReadTimeout.Duration,
			WriteTimeout:      s.Limits.WriteTimeout.Duration,
			IdleTimeout:       s.Limits.IdleTimeout.Duration,
			MaxHeaderBytes:    s.Limits.MaxHeaderBytes,
			MaxStreams:        s.Limits.MaxStreams,
		},
		ACME: policyhost.ACMEConfig{
			Enabled:          s.ACME.Enabled,
			DirectoryURL:     s.ACME.DirectoryURL,
			Email:            s.ACME.Email,
			AgreeTOS:         s.ACME.AgreeTOS,
			CAFile:           abs(s.ACME.CAFile),
			DisableHTTP01:    s.ACME.DisableHTTP01,
			DisableTLSALPN01: s.ACME.DisableTLSALPN01,
			DNS01:            s.ACME.DNS01,
			DNS01Delay:       s.ACME.DNS01Delay.Duration,
		},
		MXRefresh:     s.MXRefresh.Duration,
		MXValidate:    s.MXValidate,
		CertCheck:     s.CertCheck.Duration,
		ExpiryWarning: s.ExpiryWarning.Duration,
		Records:       policyhost.RecordsConfig{Addresses: s.Records.Addresses, CNAME: s.Records.CNAME, TTL: s.Records.TTL},
		DNSUpdate: policyhost.DNSUpdateConfig{
			Server:    s.DNSUpdate.Server,
			KeyName:   s.DNSUpdate.TSIGKey,
			Algorithm: s.DNSUpdate.TSIGAlgorithm,
			Secret:    secret,
			TTL:       s.DNSUpdate.TTL,
			Timeout:   s.DNSUpdate.Timeout.Duration,
		},
	}
	for _, d := range f.Domain {
		maxAge := int64(defaultMaxAge)
		if d.MaxAge != nil {
			maxAge = *d.MaxAge
		}
		pc.Domains = append(pc.Domains, policyhost.DomainConfig{
			Domain:      d.Name,
			Mode:        sts.Mode(d.Mode),
			MaxAge:      maxAge,
			MX:          d.MX.patterns,
			MXAuto:      d.MX.auto,
			CertFile:    abs(d.CertFile),
			KeyFile:     abs(d.KeyFile),
			TLSRPT:      d.TLSRPT,
			Zone:        d.Zone,
			NoDNSUpdate: d.DNSUpdate != nil && !*d.DNSUpdate,
		})
	}
	cfg.Config = pc
	if err := f.reportsConfig(cfg, abs, resolveURL); err != nil {
		return nil, err
	}
	if err := f.monitorConfig(cfg, abs); err != nil {
		return nil, err
	}
	return cfg, nil
}
