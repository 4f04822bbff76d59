package policyhost

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// Config is everything a Server serves and how. The zero value is not
// useful: start from DefaultConfig.
type Config struct {
	// ListenHTTPS is the address of the HTTPS listener, such as ":443".
	ListenHTTPS string
	// ListenHTTP is the address of the plain HTTP listener, which answers
	// ACME HTTP-01 challenges and nothing else (404); "" disables it.
	ListenHTTP string
	// ListenMetrics is the address of the Prometheus /metrics listener;
	// "" disables it. Keep it private (loopback).
	ListenMetrics string
	// DataDir holds the policy id state and the ACME account and
	// certificates.
	DataDir string
	// AccessLog logs every request at level Info.
	AccessLog bool
	// Limits bound the resources one client can take.
	Limits Limits
	// ACME, when Enabled, obtains certificates for domains without
	// certificate files.
	ACME ACMEConfig
	// MXRefresh is how often the live MX records of "mx auto" domains are
	// looked up again.
	MXRefresh time.Duration
	// MXValidate makes a host new in the live MX records of an mx auto
	// domain in mode enforce wait, out of the policy, until it passes
	// Options.ValidateMX.
	MXValidate bool
	// CertCheck is how often certificate files are checked for changes and
	// all certificates for coming expiry.
	CertCheck time.Duration
	// ExpiryWarning is how long before a certificate expires a warning is
	// logged, at every CertCheck.
	ExpiryWarning time.Duration
	// Records describes where "mta-sts.<domain>" must point, for the DNS
	// records to publish (see Records).
	Records RecordsConfig
	// DNSUpdate, when Server is set, updates the _mta-sts TXT records by
	// RFC 2136 dynamic update whenever a policy id changes.
	DNSUpdate DNSUpdateConfig
	// Domains are the policy domains served, at least one.
	Domains []DomainConfig
}

// Limits bound the resources of the HTTPS and HTTP listeners.
type Limits struct {
	// MaxConns is the most connections open at once; more are closed at
	// once. 0 means no limit.
	MaxConns int
	// MaxConnsPerIP is the most connections open at once from one client
	// address; more are closed at once. 0 means no limit.
	MaxConnsPerIP int
	// ReadHeaderTimeout bounds the TLS handshake and the request head.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a request's body, counted from the end
	// of its head (which ReadHeaderTimeout bounds).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response: a client that stops
	// reading is cut off once a write has waited this long.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request head.
	MaxHeaderBytes int
	// MaxStreams is the most requests one HTTP/2 connection may have in
	// progress at once; 0 means 32.
	MaxStreams int
}

// ACMEConfig configures certificates from an ACME CA (RFC 8555).
type ACMEConfig struct {
	// Enabled turns ACME on for every domain without certificate files.
	Enabled bool
	// DirectoryURL is the CA's directory, such as Let's Encrypt's.
	DirectoryURL string
	// Email is the account's contact address.
	Email string
	// AgreeTOS must be set: it accepts the CA's terms of service.
	AgreeTOS bool
	// CAFile is a PEM file of roots to trust when talking to the CA
	// (for a private CA); "" means the system roots.
	CAFile string
	// DisableHTTP01 and DisableTLSALPN01 turn off one challenge type.
	DisableHTTP01, DisableTLSALPN01 bool
	// DNS01 answers DNS-01 challenges (RFC 8555 §8.4) instead, by RFC
	// 2136 updates through Config.DNSUpdate, for policy hosts the CA
	// cannot reach on ports 80 and 443. HTTP-01 and TLS-ALPN-01 are then
	// not used.
	DNS01 bool
	// DNS01Delay is waited after the challenge record is seen on the
	// update server before the CA is told to look, for zones whose
	// secondary servers take that long to follow; 0 means no wait.
	DNS01Delay time.Duration
}

// RecordsConfig says how "mta-sts.<domain>" reaches this server, for the
// A/AAAA or CNAME record that Records prints.
type RecordsConfig struct {
	// Addresses are this server's public IPv4 and IPv6 addresses.
	Addresses []string
	// CNAME, if set, is a host name of this server that the policy hosts
	// can point at instead of addresses.
	CNAME string
	// TTL of the printed records, in seconds.
	TTL int
}

// DNSUpdateConfig configures RFC 2136 dynamic updates of the _mta-sts TXT
// records, signed with TSIG (RFC 8945).
type DNSUpdateConfig struct {
	// Server is the primary name server, "host:port"; "" disables updates.
	Server string
	// KeyName, Algorithm ("hmac-sha256" and the like) and Secret (base64)
	// are the TSIG key.
	KeyName, Algorithm, Secret string
	// TTL of the updated record, in seconds.
	TTL int
	// Timeout bounds one update.
	Timeout time.Duration
}

// DomainConfig is one policy domain.
type DomainConfig struct {
	// Domain is the policy domain, such as "example.com"; the policy host
	// is "mta-sts." + Domain.
	Domain string
	// Mode, MaxAge and MX make the policy (RFC 8461 §3.2).
	Mode   sts.Mode
	MaxAge int64
	MX     []string
	// MXAuto adds the host names of the domain's live MX records to MX,
	// looked up every MXRefresh.
	MXAuto bool
	// CertFile and KeyFile are a PEM certificate chain and key for
	// "mta-sts."+Domain; when empty, ACME is used.
	CertFile, KeyFile string
	// TLSRPT are the rua URIs of the _smtp._tls record (RFC 8460 §3) that
	// Records prints; empty means "mailto:tlsrpt@"+Domain.
	TLSRPT []string
	// Zone is the DNS zone holding _mta-sts.<domain> for dynamic updates;
	// "" means Domain.
	Zone string
	// NoDNSUpdate leaves this domain's record alone even when DNSUpdate is
	// configured.
	NoDNSUpdate bool
}

// PolicyHost returns "mta-sts." + the normalized domain.
func (d *DomainConfig) PolicyHost() string { return "mta-sts." + d.Domain }

// GCPercent is the garbage collector setting (debug.SetGCPercent) for a
// process that serves policies: its live heap is a few MiB and nearly
// everything a request allocates dies with it, so collecting at 4× rather
// than 2× the live heap costs a few MiB and saves about 4 % of the CPU per
// request (bench/RESULTS.md).
const GCPercent = 400

// DefaultConfig returns a Config with the default listeners, limits and
// intervals, and no domain.
func DefaultConfig() Config {
	return Config{
		ListenHTTPS:   ":443",
		ListenHTTP:    ":80",
		ListenMetrics: "127.0.0.1:9464",
		DataDir:       "/var/lib/mtasts",
		AccessLog:     true,
		Limits: Limits{
			MaxConns:          10000,
			MaxConnsPerIP:     64,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    8 << 10,
			MaxStreams:        32,
		},
		ACME:          ACMEConfig{DirectoryURL: "https://acme-v02.api.letsencrypt.org/directory"},
		MXRefresh:     time.Hour,
		CertCheck:     time.Minute,
		ExpiryWarning: 14 * 24 * time.Hour,
		Records:       RecordsConfig{TTL: 3600},
		DNSUpdate:     DNSUpdateConfig{Algorithm: "hmac-sha256", TTL: 3600, Timeout: 10 * time.Second},
	}
}

// DomainError is a problem with one domain of a Config. Key names the
// setting ("mode", "max_age", "mx", "cert_file", …), or is "" for the
// domain as a whole.
type DomainError struct {
	// Index is the position of the domain in Config.Domains.
	Index  int
	Domain string
	Key    string
	Err    error
}

func (e *DomainError) Error() string {
	s := fmt.Sprintf("domain %q", e.Domain)
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Err.Error()
}

func (e *DomainError) Unwrap() error { return e.Err }

// SettingError is a problem with one server-wide setting of a Config. Key
// names it as in the [serve] section of the configuration file
// ("acme.dns01").
type SettingError struct {
	Key string
	Err error
}

func (e *SettingError) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *SettingError) Unwrap() error { return e.Err }

// Validate checks c and normalizes its domain names. Problems with a domain
// are *DomainError values, joined with errors.Join; an invalid policy is
// reported with the policy key and line (RFC 8461 §3.2).
func (c *Config) Validate() error {
	var errs []error
	if c.ListenHTTPS == "" {
		errs = append(errs, errors.New("listen_https: an HTTPS listener is required (RFC 8461 §3.3)"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required (policy ids and certificates are kept there)"))
	}
	if len(c.Domains) == 0 {
		errs = append(errs, errors.New("no domain configured: add a [[domain]] section"))
	}
	if err := c.DNSUpdate.check(); err != nil {
		errs = append(errs, err)
	}
	if c.ACME.Enabled && !c.ACME.AgreeTOS {
		errs = append(errs, errors.New("acme: set agree_tos = true to accept the CA's terms of service"))
	}
	if c.ACME.DNS01 && c.DNSUpdate.Server == "" {
		errs = append(errs, &SettingError{Key: "acme.dns01", Err: errors.New("DNS-01 challenge records are added by RFC 2136 update: set the server of [serve.dns_update]")})
	}
	seen := map[string]int{}
	for i := range c.Domains {
		d := &c.Domains[i]
		fail := func(key string, err error) {
			errs = append(errs, &DomainError{Index: i, Domain: d.Domain, Key: key, Err: err})
		}
		name, err := sts.NormalizeDomain(d.Domain)
		if err != nil {
			fail("domain", err)
			continue
		}
		d.Domain = name
		if j, dup := seen[name]; dup {
			fail("domain", fmt.Errorf("configured twice (also domain #%d)", j+1))
			continue
		}
		seen[name] = i
		if d.Mode == "" {
			fail("mode", errors.New(`required: "enforce", "testing" or "none" (RFC 8461 §5)`))
			continue
		}
		if (d.CertFile == "") != (d.KeyFile == "") {
			fail("cert_file", errors.New("cert_file and key_file go together"))
		} else if d.CertFile == "" && !c.ACME.Enabled {
			fail("cert_file", errors.New("no certificate: set cert_file and key_file, or enable [serve.acme]"))
		}
		if _, err := d.render(d.MX, d.MXAuto); err != nil {
			errs = append(errs, withIndex(err, i))
		}
	}
	return errors.Join(errs...)
}

func withIndex(err error, i int) error {
	var de *DomainError
	if errors.As(err, &de) {
		de.Index = i
	}
	return err
}

// autoPlaceholder stands in for the live MX hosts when a configuration with
// mx "auto" is checked before any lookup.
const autoPlaceholder = "mx.auto.invalid"

// render builds the policy text of d with the MX patterns mx and checks it
// with the parser senders use, so that nothing invalid is ever served.
// placeholder adds autoPlaceholder when the live MX hosts are not known yet.
func (d *DomainConfig) render(mx []string, placeholder bool) ([]byte, error) {
	fail := func(key string, err error) error { return &DomainError{Domain: d.Domain, Key: key, Err: err} }
	for _, p := range mx {
		// A line break in a pattern would smuggle lines into the policy.
		if strings.ContainsAny(p, "\r\n") {
			return nil, fail("mx", fmt.Errorf("pattern %q holds a line break", p))
		}
	}
	all := mx
	if placeholder {
		all = append(append([]string(nil), mx...), autoPlaceholder)
	}
	if strings.ContainsAny(string(d.Mode), "\r\n") {
		return nil, fail("mode", fmt.Errorf("%q holds a line break", d.Mode))
	}
	p := &sts.Policy{Version: "STSv1", Mode: d.Mode, MaxAge: d.MaxAge, MX: all}
	text := p.String()
	parsed, err := sts.ParsePolicy([]byte(text))
	if err != nil {
		key := ""
		var se *sts.SyntaxError
		if errors.As(err, &se) {
			key = se.Key
		}
		if d.MaxAge < 0 {
			key = "max_age"
		}
		return nil, fail(key, fmt.Errorf("invalid policy: %w", err))
	}
	if parsed.Mode != d.Mode || parsed.MaxAge != d.MaxAge || len(parsed.MX) != len(all) {
		return nil, fail("", errors.New("the policy does not read back as written"))
	}
	return []byte(text), nil
}
