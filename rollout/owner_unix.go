//go:build unix

package rollout

import (
	"fmt"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file fi describes, so that
// a configuration file replaced by root stays readable by the group that
// serve runs as (root:mtasts in the Debian package).
func keepOwner(f *os.File, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("giving the new file the owner and group of the old (run as its owner, or as root): %w", err)
	}
	return nil
}
