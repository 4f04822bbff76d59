package testpostfix

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// ServeDNS answers DNS on 127.0.0.1:53 (UDP and TCP) inside the namespace
// with h, for programs that use the system resolver there (Postfix looks
// up MX and A records with it). Pass a testworld's DNS to make its zone
// the namespace's view of the internet.
func (ns *Namespace) ServeDNS(h dns.Handler) {
	ns.t.Helper()
	udp := &dns.Server{PacketConn: ns.ListenPacket("udp4", "127.0.0.1:53"), Handler: h}
	tcp := &dns.Server{Listener: ns.Listen("tcp4", "127.0.0.1:53"), Handler: h}
	var wg sync.WaitGroup
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = sync.OnceFunc(func() { close(started) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer srv.NotifyStartedFunc()
			if err := srv.ActivateAndServe(); err != nil {
				ns.t.Errorf("testpostfix: DNS server in %s: %v", ns.Name, err)
			}
		}()
		<-started
	}
	ns.t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
		wg.Wait()
	})
}

// Forward listens on addr inside the namespace and relays every
// connection to what dial returns, copying bytes both ways until either
// side closes. It returns the listener's address.
func (ns *Namespace) Forward(addr string, dial func(ctx context.Context) (net.Conn, error)) string {
	ns.t.Helper()
	l := ns.Listen("tcp4", addr)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ns.t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				relay(ctx, in, dial)
			}()
		}
	}()
	return l.Addr().String()
}

// relay copies between in and a connection from dial until both
// directions end or ctx is canceled.
func relay(ctx context.Context, in net.Conn, dial func(ctx context.Context) (net.Conn, error)) {
	defer in.Close()
	out, err := dial(ctx)
	if err != nil {
		return
	}
	defer out.Close()
	stop := context.AfterFunc(ctx, func() { in.Close(); out.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tcp, ok := dst.(*net.TCPConn); ok && (err == nil || errors.Is(err, io.EOF)) {
			tcp.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// ServeWorld makes w the internet as seen from inside the namespace: its
// DNS server answers on 127.0.0.1:53, and each host's logical ports listed
// in ports (25, 443, …) are served on the host's testworld address, really
// on that port, relayed to the world's server. Postfix there looks up
// "example.com" MX and connects to mx1.example.com port 25 as on the
// internet.
func (ns *Namespace) ServeWorld(w *testworld.World, ports map[string][]int) {
	ns.t.Helper()
	ns.ServeDNS(w.DNS)
	for host, list := range ports {
		ip := w.HostIP(host).String()
		for _, port := range list {
			target := net.JoinHostPort(ip, strconv.Itoa(port))
			ns.Forward(target, func(ctx context.Context) (net.Conn, error) {
				return w.DialContext(ctx, "tcp", target)
			})
		}
	}
}
