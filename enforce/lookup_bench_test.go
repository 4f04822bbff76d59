package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/mtasts/mtasts/cache"
	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/socketmap"
)

// BenchmarkLookupCached measures what the daemon does for a lookup
// answered from the cache, without the network: the Handler, a real
// Resolver, and the memory cache or a layered one (a memory cache in
// front of a second memory cache standing for SQLite, Redis or
// PostgreSQL), over 1000 domains asked in turn as a busy MTA would.
func BenchmarkLookupCached(b *testing.B) {
	now := time.Now()
	for _, layered := range []bool{false, true} {
		b.Run(fmt.Sprintf("layered=%t", layered), func(b *testing.B) {
			mem := cache.NewMemory(0, nil)
			var c cache.Cache = mem
			if layered {
				c = cache.NewLayered(mem, cache.NewMemory(0, nil), cache.LayerOptions{SyncInterval: time.Hour})
			}
			var keys []string
			for i := range 1000 {
				d := fmt.Sprintf("d%d.example", i)
				e := &cache.Entry{Domain: d, ID: "1",
					Text:    fmt.Sprintf("version: STSv1\r\nmode: enforce\r\nmx: mx1.%s\r\nmx: *.mail.%s\r\nmax_age: 86400\r\n", d, d),
					Fetched: now, Expires: now.Add(24 * time.Hour), Checked: now}
				if err := c.Put(context.Background(), e); err != nil {
					b.Fatal(err)
				}
				keys = append(keys, d)
			}
			r, err := resolver.New(resolver.Config{Cache: c, Logger: slog.New(slog.DiscardHandler), RecheckInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			h := &Handler{Resolver: r, Logger: slog.New(slog.DiscardHandler), Answered: func(Answer) {}}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if rep := h.Lookup(ctx, socketmap.Request{Map: "postfix", Key: keys[i%len(keys)]}); rep.Status != socketmap.StatusOK {
					b.Fatalf("%s: %v", keys[i%len(keys)], rep)
				}
				i++
			}
		})
	}
}
