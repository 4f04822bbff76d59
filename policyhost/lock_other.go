//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || solaris)

package policyhost

import "os"

// lockFile does nothing where flock(2) is missing: LockDataDir then
// records the pid without excluding a second server.
func lockFile(*os.File) error { return nil }
