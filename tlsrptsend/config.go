package tlsrptsend

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/tomlconf"
)

// Config is who we are as a report submitter, how our reports leave and
// where the outcomes come from: the [daemon.tlsrpt_send] section of
// mtasts.toml (docs/mtasts.example.toml has every key), and the flags of
// "mtasts tlsrpt send".
type Config struct {
	// Enabled runs the schedule in the daemon.
	Enabled bool `toml:"enabled"`
	// Store is the report store's URL; the daemon's default is
	// reports.db beside its cache.
	Store string `toml:"store"`

	OrganizationName string `toml:"organization_name"`
	ContactInfo      string `toml:"contact_info"`
	Submitter        string `toml:"submitter"` // our domain (RFC 8460 §5.1, §5.3)
	From             string `toml:"from"`

	DKIMKey      string `toml:"dkim_key"` // PEM, PKCS #8 or PKCS #1
	DKIMSelector string `toml:"dkim_selector"`
	DKIMDomain   string `toml:"dkim_domain"` // default: Submitter

	// Relay, if set, is HOST:PORT of the relay that report mail is
	// submitted to; else mail goes to the rua domain's MX hosts.
	Relay             string `toml:"relay"`
	RelayUser         string `toml:"relay_user"`
	RelayPasswordFile string `toml:"relay_password_file"`
	RelayInsecure     bool   `toml:"relay_insecure"`
	HELO              string `toml:"helo"` // default: the host name

	ArchiveDir    string `toml:"archive_dir"`
	MaxReportSize int    `toml:"max_report_size"`
	SuppressAfter int64  `toml:"suppress_after"`

	// PostfixLog, if set, is Postfix's log file, followed by the daemon
	// (LogCollector); SendingIP is our "sending-mta-ip".
	PostfixLog string `toml:"postfix_log"`
	// LibTLSRPTSocket, if set, is the UNIX datagram socket that receives
	// the datagrams of Postfix 3.10 and later (smtp_tlsrpt_socket_name;
	// DatagramSocket).
	LibTLSRPTSocket string        `toml:"libtlsrpt_socket"`
	SendingIP       string        `toml:"sending_ip"`
	FlushInterval   time.Duration `toml:"flush_interval"`
	// Spread is the longest random delay after MinDelay past midnight
	// before a day's reports are sent (RFC 8460 §4.1).
	Spread time.Duration `toml:"spread"`
}

// DefaultConfig returns the defaults of the keys that have one.
func DefaultConfig() Config {
	return Config{MaxReportSize: 10 << 20, SuppressAfter: 5, FlushInterval: time.Minute, Spread: MaxDelay}
}

// Resolve takes the relative paths of c from the directory of f.
func (c *Config) Resolve(f *tomlconf.File) {
	for _, p := range []*string{&c.DKIMKey, &c.RelayPasswordFile, &c.ArchiveDir, &c.PostfixLog, &c.LibTLSRPTSocket} {
		*p = f.Resolve(*p)
	}
	c.Store = f.ResolveSQLite(c.Store)
}

// Check validates c as a start would, reading the DKIM key and the relay
// password; errors are *tomlconf.SettingError under section (such as
// "daemon", "tlsrpt_send").
func (c *Config) Check(section ...string) error {
	bad := func(key string, err error) error {
		return tomlconf.Setting(err, append(section[:len(section):len(section)], key)...)
	}
	for key, v := range map[string]string{"organization_name": c.OrganizationName, "contact_info": c.ContactInfo, "submitter": c.Submitter} {
		if strings.TrimSpace(v) == "" {
			return bad(key, errors.New("required to send reports"))
		}
	}
	if _, err := c.dkimOptions(); err != nil {
		return bad("dkim_key", err)
	}
	if _, err := c.relayPassword(); err != nil {
		return bad("relay_password_file", err)
	}
	if c.Relay != "" {
		if _, _, err := net.SplitHostPort(c.Relay); err != nil {
			return bad("relay", err)
		}
	}
	if _, err := c.sendingIP(); err != nil {
		return bad("sending_ip", err)
	}
	if c.ArchiveDir != "" {
		if info, err := os.Stat(c.ArchiveDir); err != nil || !info.IsDir() {
			return bad("archive_dir", fmt.Errorf("%s: not a directory: %v", c.ArchiveDir, err))
		}
	}
	if c.PostfixLog != "" {
		f, err := os.Open(c.PostfixLog)
		if err != nil {
			return bad("postfix_log", err)
		}
		f.Close()
	}
	if c.LibTLSRPTSocket != "" && c.PostfixLog != "" {
		return bad("libtlsrpt_socket", errors.New("with postfix_log too, each session would be counted twice: choose one"))
	}
	if c.LibTLSRPTSocket != "" {
		if info, err := os.Stat(filepath.Dir(c.LibTLSRPTSocket)); err != nil || !info.IsDir() {
			return bad("libtlsrpt_socket", fmt.Errorf("%s: no directory to bind the socket in: %v", c.LibTLSRPTSocket, err))
		}
	}
	for key, d := range map[string]time.Duration{"flush_interval": c.FlushInterval, "spread": c.Spread} {
		if d < 0 || key == "flush_interval" && d == 0 {
			return bad(key, fmt.Errorf("%v: must be positive", d))
		}
	}
	if c.MaxReportSize <= 0 {
		return bad("max_report_size", fmt.Errorf("%d: must be positive", c.MaxReportSize))
	}
	return nil
}

// sendingIP parses SendingIP; the zero Addr if empty.
func (c *Config) sendingIP() (netip.Addr, error) {
	if c.SendingIP == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(c.SendingIP)
}

// SendingAddr returns SendingIP parsed, as Check accepted it.
func (c *Config) SendingAddr() netip.Addr {
	ip, _ := c.sendingIP()
	return ip
}

// relayPassword reads RelayPasswordFile; "" without it.
func (c *Config) relayPassword() (string, error) {
	if c.RelayPasswordFile == "" {
		return "", nil
	}
	pw, err := os.ReadFile(c.RelayPasswordFile)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(pw), "\r\n"), nil
}

// dkimOptions reads the DKIM key; nil without one.
func (c *Config) dkimOptions() (*dkim.SignOptions, error) {
	if c.DKIMKey == "" {
		return nil, nil
	}
	if c.DKIMSelector == "" {
		return nil, errors.New("a DKIM key needs its selector (dkim_selector, --dkim-selector)")
	}
	data, err := os.ReadFile(c.DKIMKey)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", c.DKIMKey)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: neither PKCS #8 nor PKCS #1: %w", c.DKIMKey, err)
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T cannot sign", c.DKIMKey, key)
	}
	domain := c.DKIMDomain
	if domain == "" {
		domain = c.Submitter
	}
	return &dkim.SignOptions{Domain: domain, Selector: c.DKIMSelector, Signer: signer}, nil
}

// Network is what a Sender made by Config.Sender takes from its program:
// how it reaches DNS, HTTPS rua and mail servers, and its clock.
type Network struct {
	DNS     *dnsx.Client
	RootCAs *x509.CertPool // nil: the system roots
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	Timeout time.Duration
	Now     func() time.Time
	// UserAgent is sent with reports posted over HTTPS.
	UserAgent string
}

// Sender returns the Sender that c describes, over store, reaching the
// network through n. Its errors are those of Check, unplaced.
func (c *Config) Sender(n Network, log *slog.Logger, m *Metrics) (*Sender, error) {
	dkimOpts, err := c.dkimOptions()
	if err != nil {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	pw, err := c.relayPassword()
	if err != nil {
		return nil, fmt.Errorf("relay password: %w", err)
	}
	client := &http.Client{
		Timeout:       n.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.RootCAs}, DialContext: n.Dial, Proxy: http.ProxyFromEnvironment},
	}
	s := &Sender{
		Submitter:     Submitter{OrganizationName: c.OrganizationName, ContactInfo: c.ContactInfo, Domain: c.Submitter},
		DNS:           n.DNS,
		HTTPS:         &HTTPSDeliverer{Client: client, UserAgent: n.UserAgent},
		MailFrom:      c.From,
		DKIM:          dkimOpts,
		Now:           n.Now,
		ArchiveDir:    c.ArchiveDir,
		MaxReportSize: c.MaxReportSize,
		MaxFailures:   c.SuppressAfter,
		Log:           log,
		Metrics:       m,
	}
	spread := c.Spread
	s.Delay = func() time.Duration {
		if spread <= 0 {
			return MinDelay
		}
		return MinDelay + rand.N(spread)
	}
	if c.Relay != "" {
		host, _, _ := net.SplitHostPort(c.Relay)
		s.Mail = &Relay{Addr: c.Relay, Username: c.RelayUser, Password: pw, Insecure: c.RelayInsecure, Dial: n.Dial, Timeout: n.Timeout,
			TLSConfig: &tls.Config{ServerName: host, RootCAs: n.RootCAs}}
	} else {
		helo := c.HELO
		if helo == "" {
			helo, _ = os.Hostname()
		}
		s.Mail = DirectMail{Sender: &deliver.Sender{DNS: n.DNS, Dial: n.Dial, Opportunistic: true, HeloName: helo, Now: n.Now}}
	}
	return s, nil
}
