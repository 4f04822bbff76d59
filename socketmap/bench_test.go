package socketmap

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkServerCached measures the server with a handler that answers at
// once, as for a cached policy: the cost of the protocol engine itself.
// Each sub-benchmark spreads b.N sequential lookups over 1, 8 or 64
// connections, over TCP and a unix socket.
func BenchmarkServerCached(b *testing.B) {
	reply := OK("secure match=mx1.example.com:.mail.example.com servername=hostname")
	for _, network := range []string{"tcp", "unix"} {
		srv := &Server{
			Handler: HandlerFunc(func(context.Context, Request) Reply { return reply }),
			Logger:  slog.New(slog.DiscardHandler),
		}
		l := listen(b, network)
		go srv.Serve(l)
		for _, conns := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/conns=%d", network, conns), func(b *testing.B) {
				benchLookups(b, network, l.Addr().String(), conns)
			})
		}
		srv.Close()
	}
}

func benchLookups(b *testing.B, network, addr string, conns int) {
	ctx := context.Background()
	clients := make([]*Client, conns)
	for i := range clients {
		c, err := Dial(ctx, network, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Lookup(ctx, "sts", "example.com"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
