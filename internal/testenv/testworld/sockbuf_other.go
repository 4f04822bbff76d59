//go:build !linux

package testworld

import "net"

// growReadBuffer asks for a receive buffer of n bytes on c, within the
// system's limit.
func growReadBuffer(c *net.UDPConn, n int) { _ = c.SetReadBuffer(n) }
