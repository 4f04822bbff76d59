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

// staticMX answers MX lookups from memory: mx1.<domain> and
// a.mail.<domain>, for an hour.
type staticMX struct{}

func (staticMX) MX(_ context.Context, domain string) ([]string, time.Duration, error) {
	return []string{"mx1." + domain, "a.mail." + domain}, time.Hour, nil
}

// BenchmarkLookupCached measures what the daemon does for a lookup
// answered from the cache, without the network: the Handler, a real
// Resolver, and the memory cache or a layered one (a memory cache in
// front of a second memory cache standing for SQLite, Redis or
// PostgreSQL), over 1000 domains asked in turn as a busy MTA would. For
// Postfix 3.7 the MX hosts come from the resolver's MX cache as well; for
// Postfix 3.10.5 they are not needed.
func BenchmarkLookupCached(b *testing.B) {
	for _, layered := range []bool{false, true} {
		for _, postfix := range []string{"3.7", "3.10.5"} {
			b.Run(fmt.Sprintf("layered=%t/postfix=%s", layered, postfix), func(b *testing.B) {
				benchmarkLookupCached(b, layered, postfix)
			})
		}
	}
}

func benchmarkLookupCached(b *testing.B, layered bool, postfix string) {
	now := time.Now()
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
	r, err := resolver.New(resolver.Config{Cache: c, MX: staticMX{}, Logger: slog.New(slog.DiscardHandler), RecheckInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cfg := DefaultConfig(func(string) string { return "" })
	cfg.PostfixVersion = postfix
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	h := &Handler{Resolver: r, Options: cfg.replyOptions, Logger: slog.New(slog.DiscardHandler), Answered: func(Answer) {}}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if rep := h.Lookup(ctx, socketmap.Request{Map: "postfix", Key: keys[i%len(keys)]}); rep.Status != socketmap.StatusOK {
			b.Fatalf("%s: %v", keys[i%len(keys)], rep)
		}
		i++
	}
}
