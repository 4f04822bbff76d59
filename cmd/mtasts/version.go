package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time, as the Debian package does:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=0123abc" ./cmd/mtasts
//
// Otherwise they come from the module's build information.
var version, commit = "", ""

// buildVersion returns the version of this binary: the one set at build
// time, else the module's, else "(devel)".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// buildCommit returns the commit this binary was built from, shortened to
// 12 hex digits, or "" when unknown.
func buildCommit() string {
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

// versionLine is what "mtasts version" and "mtasts --version" print.
func versionLine() string {
	v := buildVersion()
	if c := buildCommit(); c != "" {
		v += " (commit " + c + ")"
	}
	return fmt.Sprintf("mtasts %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of mtasts",
		Long:  "Print the version of mtasts, the commit it was built from, the Go version and the platform; the same as \"mtasts --version\".",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprint(e.stdout, versionLine())
			return err
		},
	}
}
