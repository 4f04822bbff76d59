//go:build !unix

package statedir

// writable tells whether the process may create files in dir; without
// access(2) it cannot tell, and the open will.
func writable(string) error { return nil }
