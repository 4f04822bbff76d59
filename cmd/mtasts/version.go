package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/buildinfo"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of mtasts",
		Long:  "Print the version of mtasts, the commit it was built from, the Go version and the platform; the same as \"mtasts --version\".",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprint(e.stdout, buildinfo.Line())
			return err
		},
	}
}
