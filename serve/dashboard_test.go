package serve

import (
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/web"
)

// dashboardFile is a configuration with the dashboard on and the settings
// of extra in [serve.dashboard].
func dashboardFile(extra string) string {
	return `[serve.dashboard]
enabled = true
tokens = ["0123456789abcdef0123"]
` + extra + `
[[domain]]
name = "example.com"
mode = "testing"
mx = ["mx.example.com"]
cert_file = "a.crt"
key_file = "a.key"
`
}

// The login limits reach the dashboard; unset, they are left to its
// defaults, and negative ones are refused.
func TestDashboardLoginLimits(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  web.LoginLimits
		err   string
	}{
		{"", web.LoginLimits{}, ""},
		{"login_limit_per_client = 50\nlogin_limit_per_user = 100\nlogin_limit_window = \"1h\"\n",
			web.LoginLimits{PerClient: 50, PerUser: 100, Window: time.Hour}, ""},
		{"login_limit_per_client = -1\n", web.LoginLimits{}, "must not be negative"},
		{"login_limit_window = \"-1m\"\n", web.LoginLimits{}, "negative"},
	} {
		cfg, err := parse(t, dashboardFile(c.extra))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.extra, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.extra, err)
		case cfg.Dashboard.Auth.Limits != c.want:
			t.Errorf("%q: limits %+v, want %+v", c.extra, cfg.Dashboard.Auth.Limits, c.want)
		}
	}
}
