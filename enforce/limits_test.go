package enforce

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/socketmap"
)

// The [daemon] limits reach the socketmap server (docs/security.md): with
// max_connections = 3 and every connection idle, a fourth client is
// served and the connection idle the longest is closed; the metrics count
// it.
func TestDaemonConnectionLimit(t *testing.T) {
	w := daemonWorld(t)
	conf := testenv.WriteConfig(t, "[daemon]\ncache = \"memory:\"\nmax_connections = 3\npressure_connections = 3\nmax_lookups_in_flight = 4\n")
	d := startService(t, w, conf, func(c *Config) { c.Metrics = "127.0.0.1:0" })
	if c := d.s.config.Load(); c.MaxConnections != 3 || c.MaxLookupsInFlight != 4 {
		t.Fatalf("limits not read from the file: %+v", c)
	}
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", d.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// The server has taken the three in before the fourth comes.
	for deadline := time.Now().Add(10 * time.Second); d.s.server.Stats().Open < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not take the idle connections: %+v", d.s.server.Stats())
		}
	}
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Lookup(t.Context(), "postfix", "testing.test"); err != nil || r.Status != socketmap.StatusNotFound {
		t.Fatalf("a new client beside three idle ones: %v, %v", r, err)
	}
	idle[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := idle[0].Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("the oldest idle connection was not closed: %d bytes, %v", n, err)
	}
	if got := d.s.resolver.Load().Load().Limit; got != 4 {
		t.Errorf("max_lookups_in_flight: the resolver's limit is %d", got)
	}
	resp, err := http.Get("http://" + d.s.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mtasts_socketmap_connections_evicted_total 1", "mtasts_socketmap_connections_refused_total 0", "mtasts_lookups_in_flight 0"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestLimitSettingsChecked(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"[daemon]\npressure_connections = -1\n", ":2: daemon.pressure_connections: -1: must not be negative"},
		{"[daemon]\nmax_connections = 10\npressure_connections = 20\n", ":3: daemon.pressure_connections: 20: above max_connections (10)"},
		{"[daemon]\npressure_idle_timeout = \"-1s\"\n", ":2: daemon.pressure_idle_timeout: -1s: must not be negative"},
	} {
		_, err := Load(testenv.WriteConfig(t, tc.file), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
}
