package testpostfix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Namespace is a Linux network namespace of its own for one test, made
// with "ip netns add". Inside it only the loopback interface exists, so
// every port (25, 53) is free and every 127.0.0.0/8 address is local.
// Programs run with Command see /etc/netns/<name>/resolv.conf as their
// /etc/resolv.conf ("ip netns exec" bind-mounts it), which points the
// system resolver at 127.0.0.1:53 inside the namespace.
//
// The test process itself stays outside; Listen, ListenPacket and Dial
// create sockets inside the namespace from a goroutine whose OS thread
// has joined it (setns(2)). A socket belongs to the namespace it was made
// in for its whole life, so it can then be used from any goroutine.
type Namespace struct {
	// Name is the namespace name, as "ip netns" lists it.
	Name string
	t    testing.TB
}

// NewNamespace creates a namespace with its loopback interface up and a
// resolv.conf naming 127.0.0.1; it is deleted in t.Cleanup. It needs root.
func NewNamespace(t testing.TB) *Namespace {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	ns := &Namespace{Name: "mtasts-" + hex.EncodeToString(b[:]), t: t}
	etc := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatalf("testpostfix: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n"), 0o644); err != nil {
		t.Fatalf("testpostfix: %v", err)
	}
	if out, err := exec.Command(ipCommand, "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("testpostfix: ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ipCommand, "netns", "delete", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("testpostfix: ip netns delete %s: %v: %s", ns.Name, err, out)
		}
	})
	if out, err := ns.Command(context.Background(), ipCommand, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("testpostfix: bringing up lo in %s: %v: %s", ns.Name, err, out)
	}
	return ns
}

// ipCommand is iproute2's ip; Debian installs it in /usr/sbin, which a
// test's PATH may lack.
var ipCommand = lookPath("ip")

// lookPath finds a system command in PATH or the sbin directories.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}

// Command returns a command that runs name inside the namespace, through
// "ip netns exec".
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ipCommand, append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// do runs fn on an OS thread that has joined the namespace. The thread is
// never returned to the Go scheduler: the goroutine exits while still
// locked, and the runtime then ends the thread.
func (ns *Namespace) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns.Name))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// inside returns what open makes inside the namespace, failing the test
// if it fails; the result is closed in t.Cleanup.
func inside[T io.Closer](ns *Namespace, what string, open func() (T, error)) T {
	ns.t.Helper()
	var v T
	err := ns.do(func() (err error) { v, err = open(); return err })
	if err != nil {
		ns.t.Fatalf("testpostfix: %s in %s: %v", what, ns.Name, err)
	}
	ns.t.Cleanup(func() { v.Close() })
	return v
}

// Listen listens on a TCP address inside the namespace; the listener is
// closed in t.Cleanup.
func (ns *Namespace) Listen(network, addr string) net.Listener {
	ns.t.Helper()
	return inside(ns, "listen "+network+" "+addr, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// ListenPacket opens a UDP socket inside the namespace; it is closed in
// t.Cleanup.
func (ns *Namespace) ListenPacket(network, addr string) net.PacketConn {
	ns.t.Helper()
	return inside(ns, "listen "+network+" "+addr, func() (net.PacketConn, error) { return net.ListenPacket(network, addr) })
}

// Dial connects to addr from inside the namespace.
func (ns *Namespace) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Available reports why namespaces cannot be made here, or "" if they
// can: they need root and iproute2.
func Available() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if !strings.HasPrefix(ipCommand, "/") {
		return "iproute2 (ip) is not installed"
	}
	return ""
}
