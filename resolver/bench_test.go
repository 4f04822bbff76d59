package resolver_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/mtasts/mtasts/resolver"
)

// BenchmarkDecideCached measures a decision answered from the memory
// cache, the common case of a busy MTA, from parallel goroutines.
func BenchmarkDecideCached(b *testing.B) {
	e := newEnv(b, func(c *resolver.Config) {
		c.Logger = slog.New(slog.DiscardHandler)
		c.RecheckInterval = 1 << 62 // no re-check during the run
	})
	e.w.PolicyDomain("example.com", enforcePolicy)
	e.want(e.decide("example.com"), resolver.Enforce, resolver.SourceFetch)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, _ := e.r.Decide(ctx, "example.com"); d.Kind != resolver.Enforce {
				b.Fatalf("decision %s", d.Kind)
			}
		}
	})
}
