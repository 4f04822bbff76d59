package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/mtasts/mtasts/internal/buildinfo"
)

// newManCmd writes the manual pages, one per command, generated from the
// same help texts that "mtasts help" prints. The Debian package ships them.
func newManCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man --dir DIR",
		Short: "Write the manual pages of every command into a directory",
		Long: `Write one manual page (section 1) per command into DIR, generated from the
command help: mtasts.1, mtasts-check.1, mtasts-policy-fetch.1 and so on.
Packagers install them under /usr/share/man/man1.`,
		Example: "  mtasts man --dir /tmp/man && man /tmp/man/mtasts-check.1",
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return &exitError{code: exitCannotRun, err: err}
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{Title: "MTASTS", Section: "1", Source: "mtasts " + buildinfo.Version(), Manual: "mtasts manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return &exitError{code: exitCannotRun, err: fmt.Errorf("writing manual pages: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write the pages into (created if missing)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}
