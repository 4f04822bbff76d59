package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const monitorDomain = `
[[domain]]
name = "example.com"
mode = "testing"
mx = ["mx.example.com"]
cert_file = "a.crt"
key_file = "a.key"
`

// The [serve.monitor] section: defaults, every key, and each mistake
// refused with its key.
func TestMonitorConfig(t *testing.T) {
	cfg, err := parse(t, monitorDomain)
	if err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	want := Monitor{Interval: time.Hour, MonitorThresholds: MonitorThresholds{CertWarning: 14 * day, CertCritical: 3 * day, FailureRate: 0.05, FailureWindow: 2 * day,
		MinSessions: 100, Baseline: 30 * day, ReadyFor: 14 * day}}
	if diff := cmp.Diff(want, cfg.Monitor); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smtp.secret"), []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Parse(filepath.Join(dir, "mtasts.toml"), []byte(`
[serve.monitor]
enabled = true
interval = "10m"
resolver = "127.0.0.1:53"
ca_file = "ca.pem"
cert_warning = "240h"
cert_critical = "24h"
failure_rate = 0.1
failure_window = "24h"
min_sessions = 10
baseline = "168h"
testing_ready_for = "72h"
alertmanagers = ["http://127.0.0.1:9093"]
[serve.monitor.email]
server = "smtp.example.com:587"
username = "u"
password_file = "smtp.secret"
from = "mtasts@example.com"
to = ["postmaster@example.com"]
[[serve.monitor.webhook]]
url = "https://hooks.example.com/a"
[[serve.monitor.webhook]]
url = "https://chat.example.com/b"
format = "slack"
`+monitorDomain))
	if err != nil {
		t.Fatal(err)
	}
	want = Monitor{Enabled: true, Interval: 10 * time.Minute, Resolver: "127.0.0.1:53", CAFile: filepath.Join(dir, "ca.pem"),
		MonitorThresholds: MonitorThresholds{CertWarning: 10 * day, CertCritical: day, FailureRate: 0.1, FailureWindow: day, MinSessions: 10, Baseline: 7 * day, ReadyFor: 3 * day},
		Alertmanagers:     []string{"http://127.0.0.1:9093"},
		Email:             &MonitorEmail{Server: "smtp.example.com:587", StartTLS: "required", Username: "u", Password: "pw", From: "mtasts@example.com", To: []string{"postmaster@example.com"}},
		Webhooks:          []MonitorWebhook{{URL: "https://hooks.example.com/a", Format: "json"}, {URL: "https://chat.example.com/b", Format: "slack"}}}
	if diff := cmp.Diff(want, cfg.Monitor); diff != "" {
		t.Errorf("every key (-want +got):\n%s", diff)
	}

	for _, tt := range []struct{ section, want string }{
		{"[serve.monitor]\ninterval = \"10ms\"", "serve.monitor.interval"},
		{"[serve.monitor]\ncert_critical = \"500h\"", "serve.monitor.cert_critical"},
		{"[serve.monitor]\nfailure_rate = 1.5", "serve.monitor.failure_rate"},
		{"[serve.monitor]\nalertmanagers = [\"alertmanager:9093\"]", "serve.monitor.alertmanagers[0]"},
		{"[[serve.monitor.webhook]]\nurl = \"https://x.example\"\nformat = \"xml\"", "serve.monitor.webhook[0]: format"},
		{"[serve.monitor.email]\nserver = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]", "serve.monitor.email.server"},
		{"[serve.monitor.email]\nserver = \"smtp.example.com:587\"\nfrom = \"a@example.com\"", "serve.monitor.email.to"},
		{"[serve.monitor.email]\nserver = \"smtp.example.com:587\"\nstarttls = \"maybe\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]", "serve.monitor.email.starttls"},
		{"[serve.monitor]\nintervall = \"1h\"", "intervall"},
	} {
		_, err := parse(t, tt.section+"\n"+monitorDomain)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error naming %s", tt.section, err, tt.want)
		}
	}
}
