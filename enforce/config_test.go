package enforce

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/tlsrptsend"
)

// The example configuration loads, and documents every key of [daemon]
// (keys without a default, such as dane, as a commented-out line).
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "docs", "mtasts.example.toml")
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if z, name := c.zone("mx.example.com"); name != "example.com" || !*z.StrictTesting || z.OnDNSFailure != onDNSFailureTempfail {
		t.Errorf("zone of mx.example.com: %q %+v", name, z)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Zone](), reflect.TypeFor[tlsrptsend.Config]()} {
		for f := range typ.Fields() {
			if key := f.Tag.Get("toml"); key != "" && key != "-" && key != "zones" && key != "default_zone" && key != "tlsrpt_send" &&
				!regexp.MustCompile(`(?m)^(# )?`+key+` = `).Match(text) {
				t.Errorf("key %s is not documented in %s", key, path)
			}
		}
	}
	// The settings a reload keeps are those it says need a restart.
	m := regexp.MustCompile(`(?s)# SIGHUP reloads the file\..*?; (.*?) need a restart`).FindSubmatch(text)
	if m == nil {
		t.Fatalf("%s does not say which settings need a restart", path)
	}
	documented := strings.Fields(strings.NewReplacer(",", " ", " and ", " ", "#", " ").Replace(string(m[1])))
	if !slices.Equal(documented, restartOnly) {
		t.Errorf("%s says %q need a restart; reload keeps %q", path, documented, restartOnly)
	}
	// Under systemd the default cache is in StateDirectory.
	c, err = Load("", func(k string) string { return map[string]string{"STATE_DIRECTORY": "/var/lib/mtasts-daemon"}[k] })
	if err != nil || c.Cache != "sqlite:///var/lib/mtasts-daemon/cache.db" {
		t.Errorf("cache under systemd: %q, %v", c.Cache, err)
	}
}

// The zone table: the most specific zone holding a domain wins, what it
// leaves out comes from the default zone (not from a parent zone), and a
// name is a zone only for itself and the names below it.
func TestZones(t *testing.T) {
	path := testenv.WriteConfig(t, `[daemon.default_zone]
on_dns_failure = "no-policy"
[daemon.zones."Example.COM."]
strict_testing = true
[daemon.zones."flaky.example.com"]
on_dns_failure = "tempfail"
`)
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		domain, zone string
		strict       bool
		dnsFailure   string
	}{
		{"example.com", "example.com", true, onDNSFailureNoPolicy},
		{"mx.example.com", "example.com", true, onDNSFailureNoPolicy},
		// Not from the parent zone: from the default zone.
		{"flaky.example.com", "flaky.example.com", false, onDNSFailureTempfail},
		{"a.b.flaky.example.com", "flaky.example.com", false, onDNSFailureTempfail},
		{"notexample.com", "", false, onDNSFailureNoPolicy},
		{"com", "", false, onDNSFailureNoPolicy},
	} {
		z, name := c.zone(tc.domain)
		if name != tc.zone || *z.StrictTesting != tc.strict || z.OnDNSFailure != tc.dnsFailure {
			t.Errorf("%s: zone %q %v %q; want %q %v %q", tc.domain, name, *z.StrictTesting, z.OnDNSFailure, tc.zone, tc.strict, tc.dnsFailure)
		}
	}
}

// Relative paths in the file are taken from its directory; flags (set
// after Load) are not.
func TestRelativePaths(t *testing.T) {
	path := testenv.WriteConfig(t, `[daemon]
listen = ["127.0.0.1:8461", "unix:run/socketmap.sock", "unix:/run/abs.sock"]
cache = "sqlite:state/cache.db"
ca_file = "roots.pem"
`)
	dir := filepath.Dir(path)
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:8461", "unix:" + filepath.Join(dir, "run/socketmap.sock"), "unix:/run/abs.sock"}
	if !slices.Equal(c.Listen, want) || c.Cache != "sqlite:"+filepath.Join(dir, "state/cache.db") || c.CAFile != filepath.Join(dir, "roots.pem") {
		t.Errorf("listen %q, cache %q, ca_file %q", c.Listen, c.Cache, c.CAFile)
	}
	for _, cacheURL := range []string{"sqlite:///var/lib/mtasts/cache.db", "memory:", "redis://localhost/0"} {
		c, err := Load(testenv.WriteConfig(t, "[daemon]\ncache = \""+cacheURL+"\"\n"), func(string) string { return "" })
		if err != nil || c.Cache != cacheURL {
			t.Errorf("%s became %q, %v", cacheURL, c.Cache, err)
		}
	}
}

// postfix_version decides what replies hold; the older keys servername
// and tlsrpt keep their meaning, and a tlsrpt the version rejects is an
// error naming the key.
func TestPostfixVersionSetting(t *testing.T) {
	for _, tc := range []struct {
		file string
		want ReplyOptions
		err  string
	}{
		{"", ReplyOptions{}, ""},
		{`postfix_version = "3.7"`, ReplyOptions{}, ""},
		{`postfix_version = "3.3.9"`, ReplyOptions{NoServername: true}, ""},
		{`postfix_version = "3.10"`, ReplyOptions{TLSRPT: true}, ""},
		{`postfix_version = "3.10.4"`, ReplyOptions{TLSRPT: true}, ""},
		{`postfix_version = "3.10.5"`, ReplyOptions{TLSRPT: true, MTAMatchesMX: true}, ""},
		{`postfix_version = "3.11.0"`, ReplyOptions{TLSRPT: true, MTAMatchesMX: true}, ""},
		{"postfix_version = \"3.11\"\ntlsrpt = false", ReplyOptions{}, ""},
		{"postfix_version = \"3.11\"\nservername = false", ReplyOptions{NoServername: true, TLSRPT: true, MTAMatchesMX: true}, ""},
		{"servername = false", ReplyOptions{NoServername: true}, ""},
		// A file written before postfix_version: tlsrpt meant Postfix 3.10.
		{"tlsrpt = true", ReplyOptions{TLSRPT: true}, ""},
		{"postfix_version = \"3.7\"\ntlsrpt = true", ReplyOptions{}, "tlsrpt: true needs Postfix 3.10 or later"},
		{`postfix_version = "3"`, ReplyOptions{}, "postfix_version: postfix version \"3\": want MAJOR.MINOR"},
		{`postfix_version = "3.x"`, ReplyOptions{}, "is not a number"},
		{`postfix_version = "2.9"`, ReplyOptions{}, "socketmap needs Postfix 2.10"},
	} {
		c, err := Load(testenv.WriteConfig(t, "[daemon]\n"+tc.file+"\n"), func(string) string { return "" })
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.file, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.file, err)
		case c.replyOptions("example.com") != tc.want:
			t.Errorf("%q: %+v, want %+v", tc.file, c.replyOptions("example.com"), tc.want)
		}
	}
}
