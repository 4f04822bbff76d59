// Command ceiling is the constant-answer server of the socketmap benchmark:
// the socketmap protocol engine of mtasts answering every request with the
// same TLS policy, without any lookup. Its throughput is the most that the
// benchmark harness can measure on the machine; mtasts daemon's cached
// answers are compared with it.
//
//	ceiling -listen 127.0.0.1:8463
//	ceiling -listen unix:/run/ceiling.sock
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mtasts/mtasts/socketmap"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8463", "TCP address, or unix:PATH, to serve socketmap on")
	answer := flag.String("answer", "secure match=mx1.example.com:.mail.example.com servername=hostname", "the OK data of every reply")
	flag.Parse()

	reply := socketmap.OK(*answer)
	srv := &socketmap.Server{
		Handler: socketmap.HandlerFunc(func(context.Context, socketmap.Request) socketmap.Reply { return reply }),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "ceiling: serving on %s\n", *listen)
	network, addr := "tcp", *listen
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", path
	}
	if err := srv.ListenAndServe(network, addr); err != nil && err != socketmap.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
