package serveconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/sts"
)

// The documented example parses, with the values it shows.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "mtasts.example.toml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("docs/mtasts.example.toml: %v", err)
	}
	if len(cfg.Domains) != 2 || cfg.Domains[0].Domain != "example.com" || cfg.Domains[0].MaxAge != 1209600 ||
		len(cfg.Domains[0].MX) != 2 || !cfg.Domains[1].MXAuto || cfg.Domains[1].Mode != sts.ModeTesting {
		t.Errorf("domains: %+v", cfg.Domains)
	}
	if cfg.Limits.ReadHeaderTimeout != 5*time.Second || cfg.MXRefresh != time.Hour || !cfg.ACME.Enabled || cfg.ConfigCheck != 10*time.Second {
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
