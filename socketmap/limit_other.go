//go:build !unix

package socketmap

// openFileLimit reports that the limit on open files is not known.
func openFileLimit() (uint64, bool) { return 0, false }
