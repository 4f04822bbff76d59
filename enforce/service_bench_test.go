package enforce

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
	"github.com/mtasts/mtasts/socketmap"
)

// BenchmarkDaemonCached measures cached answers of the whole service over
// socketmap: b.N lookups of 100 warm domains spread over 8 connections.
// bench/socketmap compares the built daemon with other servers.
func BenchmarkDaemonCached(b *testing.B) {
	w := testworld.New(b)
	var domains []string
	for i := range 100 {
		d := fmt.Sprintf("d%d.bench", i)
		w.DNS.Add(d+". MX 10 mx1."+d+".", d+". MX 20 a.mail."+d+".")
		w.PolicyDomain(d, "version: STSv1\nmode: enforce\nmx: mx1."+d+"\nmx: *.mail."+d+"\nmax_age: 86400\n")
		domains = append(domains, d)
	}
	for _, cacheURL := range []string{"memory:", "sqlite://" + b.TempDir() + "/cache.db"} {
		b.Run("cache="+cacheURL[:6], func(b *testing.B) {
			d := startService(b, w, "", func(c *Config) { c.Cache = cacheURL })
			addr := d.addr()
			clients := make([]*socketmap.Client, 8)
			for i := range clients {
				c, err := socketmap.Dial(b.Context(), "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				clients[i] = c
			}
			for _, dom := range domains {
				if _, err := clients[0].Lookup(b.Context(), "postfix", dom); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Go(func() {
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						if r, err := c.Lookup(b.Context(), "postfix", domains[n%int64(len(domains))]); err != nil || r.Status != socketmap.StatusOK {
							b.Error(r, err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
