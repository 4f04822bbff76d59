//go:build unix

package tlsrptsend

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of a file, which stay with it
// across renames (log rotation).
func fileID(info os.FileInfo) (dev, ino uint64) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on some systems
	}
	return 0, 0
}
