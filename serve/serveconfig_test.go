package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/sts"
)

// The documented example parses, with the values it shows.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "docs", "mtasts.example.toml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("docs/mtasts.example.toml: %v", err)
	}
	if len(cfg.Domains) != 2 || cfg.Domains[0].Domain != "example.com" || cfg.Domains[0].MaxAge != 1209600 ||
		len(cfg.Domains[0].MX) != 2 || !cfg.Domains[1].MXAuto || cfg.Domains[1].Mode != sts.ModeTesting {
		t.Errorf("domains: %+v", cfg.Domains)
	}
	if cfg.Limits.ReadHeaderTimeout != 5*time.Second || cfg.MXRefresh != time.Hour || !cfg.MXValidate || !cfg.ACME.Enabled || cfg.ConfigCheck != 10*time.Second {
		t.Errorf("serve: %+v", cfg.Config)
	}
}

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse("/etc/mtasts/mtasts.toml", []byte(text))
}

// The smallest file: one domain; everything else defaults. Other
// commands' sections are ignored.
func TestMinimal(t *testing.T) {
	cfg, err := parse(t, `
[daemon]
listen = ["unix:/run/mtasts.sock"]
whatever = 1

[[domain]]
name = "Example.COM"
mode = "testing"
mx = ["auto", "*.mail.example.com"]
cert_file = "certs/a.crt"
key_file = "certs/a.key"
`)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Domains[0]
	if d.Domain != "example.com" || d.MaxAge != defaultMaxAge || !d.MXAuto || len(d.MX) != 1 || d.CertFile != "/etc/mtasts/certs/a.crt" {
		t.Errorf("domain %+v", d)
	}
	if cfg.ListenHTTPS != ":443" || cfg.DataDir != "/var/lib/mtasts" || cfg.Limits.MaxConnsPerIP != 64 || cfg.LogFormat != "json" {
		t.Errorf("defaults: %+v", cfg.Config)
	}
}

// An invalid policy is refused with the file, the line, the domain and
// the RFC rule.
func TestErrorsNameLineAndDomain(t *testing.T) {
	file := `[serve]
data_dir = "/tmp/x"

[[domain]]
name = "good.example"
mode = "enforce"
mx = ["mx.good.example"]
cert_file = "a"
key_file = "b"

[[domain]]
name = "bad.example"
mode = "enforce"
max_age = 99999999
mx = ["mx.bad.example"]
cert_file = "a"
key_file = "b"

[[domain]]
name = "worse.example"
mode = "Enforce"
cert_file = "a"
key_file = "b"
`
	_, err := parse(t, file)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`/etc/mtasts/mtasts.toml:14: domain "bad.example": max_age: invalid policy: policy line 4: max_age "99999999" exceeds 31557600 (RFC 8461 §3.2)`,
		`/etc/mtasts/mtasts.toml:21: domain "worse.example": mode: invalid policy: policy line 2: mode "Enforce" is not a mode; modes are case-sensitive: use "enforce"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "good.example") {
		t.Errorf("the valid domain is blamed:\n%v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"toml syntax", "[serve\nx=1", "mtasts.toml:2:"},
		{"unknown key", "[serve]\nlisten_htps = \":443\"\n[[domain]]\nname=\"a.example\"\nmode=\"none\"\ncert_file=\"a\"\nkey_file=\"b\"\n", `mtasts.toml:2: unknown setting "serve.listen_htps"`},
		{"unknown domain key", "[[domain]]\nname=\"a.example\"\nmode=\"none\"\nmax-age=5\ncert_file=\"a\"\nkey_file=\"b\"\n", `mtasts.toml:4: unknown setting "domain.max-age"`},
		{"mx string", "[[domain]]\nname=\"a.example\"\nmode=\"enforce\"\nmx=\"mx.a.example\"\n", `write a list of patterns`},
		{"duration", "[serve]\nmx_refresh = \"soon\"\n", `"soon" is not a duration`},
		{"no domain", "[serve]\n", "no domain configured"},
		{"no certificate", "[[domain]]\nname=\"a.example\"\nmode=\"none\"\n", `mtasts.toml:1: domain "a.example": cert_file: no certificate`},
		{"bad name", "[[domain]]\nname=\"a..example\"\nmode=\"none\"\ncert_file=\"a\"\nkey_file=\"b\"\n", `mtasts.toml:2: domain "a..example": domain:`},
		{"log format", "[serve]\nlog_format = \"xml\"\n", `serve.log_format`},
	} {
		_, err := parse(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tsig.secret"), []byte("c2VjcmV0\n"), 0o600)
	cfg, err := Parse(filepath.Join(dir, "mtasts.toml"), []byte(`
[serve.dns_update]
server = "127.0.0.1:53"
tsig_key = "k."
tsig_secret_file = "tsig.secret"
[[domain]]
name = "a.example"
mode = "none"
cert_file = "a"
key_file = "b"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DNSUpdate.Secret != "c2VjcmV0" || cfg.DNSUpdate.KeyName != "k." {
		t.Errorf("dns_update: %+v", cfg.DNSUpdate)
	}
}

// writeCert writes a certificate for name from a test CA, and its key, as
// PEM files base.crt and base.key into dir.
func writeCert(t *testing.T, dir, base, name string) {
	t.Helper()
	testworld.WriteCertFiles(t, dir, base, testworld.NewCA(t, "serveconfig").Valid(t, name))
}

// The STARTTLS certificate of the report mail listener: on by default,
// from files relative to the configuration file, and refused at load with
// the line and key when the files are half given, unreadable or for
// another name.
func TestSMTPStartTLS(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "smtp", "mx.example.com")
	writeCert(t, dir, "other", "mx.example.org")
	name := filepath.Join(dir, "mtasts.toml")
	const domain = "[[domain]]\nname = \"example.com\"\nmode = \"none\"\ncert_file = \"a\"\nkey_file = \"b\"\n"
	const reports = "[serve.reports]\nenabled = true\nsmtp_listen = \"127.0.0.1:2525\"\nsmtp_domain = \"mx.example.com\"\n"
	load := func(extra string) (*Config, error) {
		t.Helper()
		return Parse(name, []byte(domain+reports+extra))
	}

	cfg, err := load("")
	if err != nil || !cfg.Reports.SMTPStartTLS || cfg.Reports.SMTPCertFile != "" {
		t.Errorf("default: %+v, %v", cfg.Reports, err)
	}
	cfg, err = load("smtp_starttls = false\n")
	if err != nil || cfg.Reports.SMTPStartTLS {
		t.Errorf("smtp_starttls = false: %+v, %v", cfg.Reports, err)
	}
	cfg, err = load("smtp_cert_file = \"smtp.crt\"\nsmtp_key_file = \"smtp.key\"\n")
	if err != nil || cfg.Reports.SMTPCertFile != filepath.Join(dir, "smtp.crt") || cfg.Reports.SMTPKeyFile != filepath.Join(dir, "smtp.key") {
		t.Errorf("certificate files: %+v, %v", cfg.Reports, err)
	}

	// The reports section starts on line 6; extra settings on line 10.
	for _, tc := range []struct{ name, extra, want string }{
		{"cert without key", "smtp_cert_file = \"smtp.crt\"\n",
			`mtasts.toml:10: serve.reports.smtp_cert_file: set without smtp_key_file`},
		{"key without cert", "recipients = []\nsmtp_key_file = \"smtp.key\"\n",
			`mtasts.toml:11: serve.reports.smtp_key_file: set without smtp_cert_file`},
		{"cert missing", "smtp_cert_file = \"none.crt\"\nsmtp_key_file = \"smtp.key\"\n",
			`mtasts.toml:10: serve.reports.smtp_cert_file: open ` + filepath.Join(dir, "none.crt")},
		{"key missing", "smtp_cert_file = \"smtp.crt\"\nsmtp_key_file = \"none.key\"\n",
			`mtasts.toml:11: serve.reports.smtp_key_file: open ` + filepath.Join(dir, "none.key")},
		{"key is no key", "smtp_cert_file = \"smtp.crt\"\nsmtp_key_file = \"smtp.crt\"\n",
			`mtasts.toml:10: serve.reports.smtp_cert_file: loading`},
		{"wrong name", "smtp_cert_file = \"other.crt\"\nsmtp_key_file = \"other.key\"\n",
			`mtasts.toml:10: serve.reports.smtp_cert_file: ` + filepath.Join(dir, "other.crt") + ` is not valid for mx.example.com`},
	} {
		_, err := load(tc.extra)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(name, []byte(domain+"[serve.reports]\nenabled = true\nsmtp_listen = \":25\"\nsmtp_cert_file = \"smtp.crt\"\nsmtp_key_file = \"smtp.key\"\n")); err == nil ||
		!strings.Contains(err.Error(), "mtasts.toml:9: serve.reports.smtp_cert_file: smtp_domain is not set") {
		t.Errorf("without smtp_domain: %v", err)
	}
}

// DNS-01 goes through [serve.dns_update]: without its server the file is
// refused at load, with the line of the key.
func TestDNS01(t *testing.T) {
	const acme = "[serve.acme]\nenabled = true\nagree_tos = true\ndns01 = true\n"
	const domain = "[[domain]]\nname = \"a.example\"\nmode = \"none\"\n"
	_, err := parse(t, acme+domain)
	if want := `/etc/mtasts/mtasts.toml:4: serve.acme.dns01: DNS-01 challenge records are added by RFC 2136 update: set the server of [serve.dns_update]`; err == nil || err.Error() != want {
		t.Errorf("without dns_update: %v\nwant %s", err, want)
	}
	_, err = parse(t, acme+"[serve.dns_update]\ntsig_key = \"k.\"\ntsig_secret = \"c2VjcmV0\"\n"+domain)
	if err == nil || !strings.Contains(err.Error(), "mtasts.toml:4: serve.acme.dns01:") {
		t.Errorf("dns_update without server: %v", err)
	}
	cfg, err := parse(t, acme+"dns01_delay = \"30s\"\n[serve.dns_update]\nserver = \"192.0.2.53:53\"\n"+domain)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ACME.DNS01 || cfg.ACME.DNS01Delay != 30*time.Second || cfg.DNSUpdate.Server != "192.0.2.53:53" {
		t.Errorf("acme %+v, dns_update %+v", cfg.ACME, cfg.DNSUpdate)
	}
}

// The bounds of the report endpoint: defaults, settings, and refusals.
func TestReportLimits(t *testing.T) {
	const domain = "\n[[domain]]\nname = \"example.com\"\nmode = \"testing\"\nmx = [\"mx.example.com\"]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"\n"
	cfg, err := parse(t, domain)
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Reports.ReportLimits; l.Memory != 96<<20 || l.MaxBody != 5<<20 || l.MinBodyRate != 8192 || l.Quarantine.MaxEntries != 10000 || l.Quarantine.Prefix != 4096 ||
		l.SMTPMaxConns != 100 || l.SMTPMaxConnsPerIP != 10 || l.SMTPTimeout != 5*time.Minute || l.SMTPSessionTimeout != 30*time.Minute {
		t.Errorf("defaults: %+v", l)
	}
	cfg, err = parse(t, "[serve.reports]\nenabled = true\nmemory_limit = 20000000\nmax_body = 1000000\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nquarantine_max_bytes = 0\nreject_interval = \"10s\"\nsmtp_max_conns = 20\nsmtp_max_conns_per_ip = 2\nsmtp_session_timeout = \"10m\"\n"+domain)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Reports.ReportLimits
	if l.Memory != 20000000 || l.MaxBody != 1000000 || len(l.TrustedProxies) != 2 || l.TrustedProxies[1].String() != "::1/128" ||
		l.Quarantine.MaxBytes != 0 || l.RejectInterval != 10*time.Second ||
		l.SMTPMaxConns != 20 || l.SMTPMaxConnsPerIP != 2 || l.SMTPSessionTimeout != 10*time.Minute {
		t.Errorf("settings: %+v", l)
	}
	for _, bad := range []string{"memory_limit = 1000", "trusted_proxies = [\"proxy.example\"]", "min_body_rate = 0", "quarantine_max_entries = -1",
		"smtp_max_conns = 0", "smtp_max_conns_per_ip = -1", "smtp_max_conns_per_ip = 1000", "smtp_timeout = \"0s\"", "smtp_session_timeout = \"0s\""} {
		if _, err := parse(t, "[serve.reports]\n"+bad+"\n"+domain); err == nil || !strings.Contains(err.Error(), ":2: serve.reports.") {
			t.Errorf("%s: %v, want an error on line 2", bad, err)
		}
	}
}
