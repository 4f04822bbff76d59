// Package buildinfo says which mtasts this is: the version and commit
// the binary was built from, for --version, manual pages and the
// User-Agent of every HTTP request mtasts makes.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time, as the Debian package does:
//
//	go build -ldflags "-X github.com/mtasts/mtasts/internal/buildinfo.version=1.2.3 -X github.com/mtasts/mtasts/internal/buildinfo.commit=0123abc" ./cmd/mtasts
//
// Otherwise they come from the module's build information.
var version, commit = "", ""

// Version returns the version of this binary: the one set at build time,
// else the module's, else "(devel)".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Commit returns the commit this binary was built from, shortened to 12
// hex digits, or "" when unknown.
func Commit() string {
	c := commit
	if bi, ok := debug.ReadBuildInfo(); ok && c == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	if len(c) > 12 {
		c = c[:12]
	}
	return c
}

// Line is the version line of "mtasts --version": version, commit, Go
// version and platform.
func Line() string {
	v := Version()
	if c := Commit(); c != "" {
		v += " (commit " + c + ")"
	}
	return fmt.Sprintf("mtasts %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// UserAgent is the User-Agent of mtasts's HTTP requests.
func UserAgent() string { return "mtasts/" + Version() }
