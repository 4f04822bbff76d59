package enforce

import (
	"testing"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/socketmap"
)

// Every metric docs/metrics.md lists for the service is exposed, once a
// lookup has fetched a policy and one has found it cached, with a cache
// whose shared backend is down (a Redis port where nothing listens).
func TestMetricsDocumented(t *testing.T) {
	w := daemonWorld(t)
	d := startService(t, w, "", func(c *Config) { c.Metrics, c.Cache = "127.0.0.1:0", "redis://127.0.0.1:1/0" })
	c, err := socketmap.Dial(t.Context(), "tcp", d.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if r, err := c.Lookup(t.Context(), "postfix", "enforce.test"); err != nil || r.Status != socketmap.StatusOK {
			t.Fatalf("lookup: %v, %v", r, err)
		}
	}
	testenv.CheckMetrics(t, "http://"+d.s.MetricsAddr().String()+"/metrics", "enforce")
}
