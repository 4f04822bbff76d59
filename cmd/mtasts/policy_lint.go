package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/ctxio"
)

func newPolicyLintCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint FILE|-",
		Short: "Validate a policy file",
		Long: `Validate an MTA-STS policy file against every rule of RFC 8461 §3.2, and
warn about what is valid but unwise: max_age under a day (under a week in
enforce), testing mode, mixed line endings, repeated keys, mx patterns that are
IP addresses, unknown keys (often typos), files over 4 KiB.

Use "-" to read standard input. Input over 1 MiB is not read further and
is invalid (senders read at most 64 KiB). Bad input is quoted in short,
escaped excerpts, and a UTF-8 byte order mark is called one.

Exit status: 0 valid, 1 valid with warnings, 2 invalid, 3 the file could not
be read.`,
		Example: `  mtasts policy lint mta-sts.txt
  curl -s https://mta-sts.example.com/.well-known/mta-sts.txt | mtasts policy lint -
  mtasts policy lint --json mta-sts.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyLint(cmd.Context(), e, args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// readPolicy reads at most check.MaxLintBytes+1 bytes of the policy file name,
// "-" being standard input, which is read until ctx ends.
func readPolicy(ctx context.Context, e *env, name string) ([]byte, error) {
	r := e.stdinUntil(ctx)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = ctxio.NewReader(ctx, f) // a pipe, such as <(curl …), may wait
	}
	return io.ReadAll(io.LimitReader(r, check.MaxLintBytes+1))
}

func runPolicyLint(ctx context.Context, e *env, name string, asJSON bool) error {
	data, err := readPolicy(ctx, e, name)
	if err != nil {
		return &exitError{code: exitCannotRun, err: fmt.Errorf("reading policy: %w", err)}
	}
	res := check.LintPolicy(name, data)
	if err := output(e, asJSON, res); err != nil {
		return err
	}
	return exitWith(statusCode(res.Status()))
}
