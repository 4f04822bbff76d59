package testworld

import (
	"net"
	"syscall"
)

// growReadBuffer asks for a receive buffer of n bytes on c. Beyond the
// system's limit (net.core.rmem_max) it takes CAP_NET_ADMIN
// (SO_RCVBUFFORCE); without it the limit applies.
func growReadBuffer(c *net.UDPConn, n int) {
	_ = c.SetReadBuffer(n)
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
	})
}
