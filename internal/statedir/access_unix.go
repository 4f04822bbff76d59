//go:build unix

package statedir

import "golang.org/x/sys/unix"

// writable tells whether the process may create files in dir, as
// access(2) with W_OK answers for its real user.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK)
}
