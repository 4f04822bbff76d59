package serve

import (
	"fmt"
	"time"

	"github.com/mtasts/mtasts/policyhost"
)

// defaultMaxAge is the max_age of a domain that sets none: one week, the
// shortest RFC 8461 §3.2 suggests for enforce.
const defaultMaxAge = 604800

// fileSyntax is the part of mtasts.toml this package reads, as written in
// the file.
type fileSyntax struct {
	Serve  serveSyntax    `toml:"serve"`
	Domain []domainSyntax `toml:"domain"`
}

type serveSyntax struct {
	ListenHTTPS   string   `toml:"listen_https"`
	ListenHTTP    string   `toml:"listen_http"`
	ListenMetrics string   `toml:"listen_metrics"`
	DataDir       string   `toml:"data_dir"`
	AccessLog     bool     `toml:"access_log"`
	LogLevel      string   `toml:"log_level"`
	LogFormat     string   `toml:"log_format"`
	MXRefresh     duration `toml:"mx_refresh"`
	MXValidate    bool     `toml:"mx_validate"`
	CertCheck     duration `toml:"cert_check"`
	ExpiryWarning duration `toml:"expiry_warning"`
	ConfigCheck   duration `toml:"config_check"`

	Limits    limitsSyntax    `toml:"limits"`
	ACME      acmeSyntax      `toml:"acme"`
	Records   recordsSyntax   `toml:"records"`
	DNSUpdate dnsUpdateSyntax `toml:"dns_update"`
	Reports   reportsSyntax   `toml:"reports"`
	Dashboard dashboardSyntax `toml:"dashboard"`
	Monitor   monitorSyntax   `toml:"monitor"`
}

type limitsSyntax struct {
	MaxConns          int      `toml:"max_conns"`
	MaxConnsPerIP     int      `toml:"max_conns_per_ip"`
	ReadHeaderTimeout duration `toml:"read_header_timeout"`
	ReadTimeout       duration `toml:"read_timeout"`
	WriteTimeout      duration `toml:"write_timeout"`
	IdleTimeout       duration `toml:"idle_timeout"`
	MaxHeaderBytes    int      `toml:"max_header_bytes"`
	MaxStreams        int      `toml:"max_streams"`
}

type acmeSyntax struct {
	Enabled          bool     `toml:"enabled"`
	DirectoryURL     string   `toml:"directory_url"`
	Email            string   `toml:"email"`
	AgreeTOS         bool     `toml:"agree_tos"`
	CAFile           string   `toml:"ca_file"`
	DisableHTTP01    bool     `toml:"disable_http01"`
	DisableTLSALPN01 bool     `toml:"disable_tlsalpn01"`
	DNS01            bool     `toml:"dns01"`
	DNS01Delay       duration `toml:"dns01_delay"`
}

type recordsSyntax struct {
	Addresses []string `toml:"addresses"`
	CNAME     string   `toml:"cname"`
	TTL       int      `toml:"ttl"`
}

type dnsUpdateSyntax struct {
	Server         string   `toml:"server"`
	TSIGKey        string   `toml:"tsig_key"`
	TSIGAlgorithm  string   `toml:"tsig_algorithm"`
	TSIGSecret     string   `toml:"tsig_secret"`
	TSIGSecretFile string   `toml:"tsig_secret_file"`
	TTL            int      `toml:"ttl"`
	Timeout        duration `toml:"timeout"`
}

type domainSyntax struct {
	Name      string   `toml:"name"`
	Mode      string   `toml:"mode"`
	MaxAge    *int64   `toml:"max_age"`
	MX        mxSyntax `toml:"mx"`
	CertFile  string   `toml:"cert_file"`
	KeyFile   string   `toml:"key_file"`
	TLSRPT    []string `toml:"tlsrpt_rua"`
	Zone      string   `toml:"zone"`
	DNSUpdate *bool    `toml:"dns_update"`
}

// defaults returns the [serve] settings of a file that sets none.
func defaults() serveSyntax {
	d := policyhost.DefaultConfig()
	reports, dashboard := defaultReports()
	return serveSyntax{
		Reports:       reports,
		Dashboard:     dashboard,
		Monitor:       defaultMonitor(),
		ListenHTTPS:   d.ListenHTTPS,
		ListenHTTP:    d.ListenHTTP,
		ListenMetrics: d.ListenMetrics,
		DataDir:       d.DataDir,
		AccessLog:     d.AccessLog,
		LogLevel:      "info",
		LogFormat:     "json",
		MXRefresh:     duration{d.MXRefresh},
		MXValidate:    true,
		CertCheck:     duration{d.CertCheck},
		ExpiryWarning: duration{d.ExpiryWarning},
		ConfigCheck:   duration{10 * time.Second},
		Limits: limitsSyntax{
			MaxConns:          d.Limits.MaxConns,
			MaxConnsPerIP:     d.Limits.MaxConnsPerIP,
			ReadHeaderTimeout: duration{d.Limits.ReadHeaderTimeout},
			ReadTimeout:       duration{d.Limits.ReadTimeout},
			WriteTimeout:      duration{d.Limits.WriteTimeout},
			IdleTimeout:       duration{d.Limits.IdleTimeout},
			MaxHeaderBytes:    d.Limits.MaxHeaderBytes,
			MaxStreams:        d.Limits.MaxStreams,
		},
		ACME:      acmeSyntax{DirectoryURL: d.ACME.DirectoryURL},
		Records:   recordsSyntax{TTL: d.Records.TTL},
		DNSUpdate: dnsUpdateSyntax{TSIGAlgorithm: d.DNSUpdate.Algorithm, TTL: d.DNSUpdate.TTL, Timeout: duration{d.DNSUpdate.Timeout}},
	}
}

// duration is a time.Duration written as a string such as "90s" or "1h".
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"1h\"", b)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", b)
	}
	d.Duration = v
	return nil
}

// mxSyntax is the mx setting of a domain: a list of MX host patterns, the
// string "auto" for the domain's live MX hosts, or a list holding "auto"
// among patterns for both.
type mxSyntax struct {
	patterns []string
	auto     bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (m *mxSyntax) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		if v != "auto" {
			return fmt.Errorf(`mx: %q: write a list of patterns, such as ["mx1.example.com"], or "auto"`, v)
		}
		m.auto = true
		return nil
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("mx: %v is not a string", e)
			}
			if s == "auto" {
				m.auto = true
				continue
			}
			m.patterns = append(m.patterns, s)
		}
		return nil
	}
	return fmt.Errorf(`mx: expected a list of patterns or "auto", not %T`, v)
}
