// Command floor is the kernel floor of the socketmap benchmark: one thread
// that waits in epoll_wait and answers every request with a constant
// reply, through raw read and write system calls, with no goroutine per
// connection, no Go network poller and no protocol parsing. What it costs
// per answer is what the kernel alone costs for one request and one reply
// on this machine, a bound below any server; the benchmark runs it to show
// how much of a server's cost is the kernel's.
//
// It counts requests by their closing commas, which is right for the
// benchmark's keys (domains never contain a comma) and nothing else, and
// it expects every reply to fit the socket buffer. Linux only.
//
//	floor -listen 127.0.0.1:8465
//	floor -listen unix:/run/floor.sock
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8465", "TCP address, or unix:PATH, to serve on")
	answer := flag.String("answer", "secure match=mx1.example.com:.mail.example.com servername=hostname", "the OK data of every reply")
	flag.Parse()
	err := serve(*listen, *answer)
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

// serve answers requests until a system call fails; it never returns nil.
func serve(listen, answer string) error {
	network, addr := "tcp", listen
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		network, addr = "unix", path
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	lf, err := ln.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return err
	}
	lfd := int(lf.Fd())
	if err := syscall.SetNonblock(lfd, true); err != nil {
		return err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	watch := func(fd int) error {
		return syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
	}
	if err := watch(lfd); err != nil {
		return err
	}
	data := "OK " + answer
	reply := fmt.Appendf(nil, "%d:%s,", len(data), data)
	fmt.Fprintf(os.Stderr, "floor: serving on %s\n", listen)
	events := make([]syscall.EpollEvent, 256)
	in := make([]byte, 64<<10)
	var out []byte
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err == syscall.EINTR {
			continue
		} else if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					c, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					if watch(c) != nil {
						syscall.Close(c)
					}
				}
				continue
			}
			m, err := syscall.Read(fd, in)
			if err == syscall.EAGAIN {
				continue
			}
			if m <= 0 || err != nil {
				syscall.Close(fd) // also leaves the epoll set
				continue
			}
			out = out[:0]
			for range bytes.Count(in[:m], []byte{','}) {
				out = append(out, reply...)
			}
			if len(out) > 0 {
				syscall.Write(fd, out)
			}
		}
	}
}
