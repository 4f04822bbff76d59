package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/ctxio"
	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/sts"
)

// lintResult is the JSON output of policy lint.
type lintResult struct {
	File     string      `json:"file"`
	Valid    bool        `json:"valid"`
	Policy   *policyJSON `json:"policy,omitempty"`
	Problems []problem   `json:"problems"`
}

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

// maxLintSize bounds the policy lint reads: sixteen times the 64 KiB that
// senders fetch at most (RFC 8461 §3.3), so that an oversized file is
// called so rather than read whole.
const maxLintSize = 16 * sts.DefaultMaxBytes

// readPolicy reads at most maxLintSize+1 bytes of the policy file name,
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
	return io.ReadAll(io.LimitReader(r, maxLintSize+1))
}

func runPolicyLint(ctx context.Context, e *env, name string, asJSON bool) error {
	data, err := readPolicy(ctx, e, name)
	if err != nil {
		return &exitError{code: exitCannotRun, err: fmt.Errorf("reading policy: %w", err)}
	}
	var p *sts.Policy
	var warnings []sts.Warning
	var errs []*sts.SyntaxError
	if len(data) > maxLintSize {
		errs = []*sts.SyntaxError{{Reason: fmt.Sprintf("policy is over %d KiB; senders read at most %d KiB of it", maxLintSize>>10, sts.DefaultMaxBytes>>10),
			Section: "RFC 8461 §3.3"}}
	} else {
		p, warnings, errs = sts.LintPolicy(data)
	}
	res := lintResult{File: name, Valid: len(errs) == 0, Policy: newPolicyJSON(p), Problems: []problem{}}
	for _, err := range errs {
		res.Problems = append(res.Problems, errorProblem(err))
	}
	res.Problems = append(res.Problems, warningProblems(warnings)...)
	sortProblems(res.Problems)

	if asJSON {
		if err := textout.WriteJSON(e.stdout, res); err != nil {
			return err
		}
		return exitWith(verdictCode(res.Problems))
	}
	w := &textout.Writer{W: e.stdout}
	switch {
	case !res.Valid:
		w.Textf("%s: invalid, %s\n", name, textout.Plural(len(errs), "error"))
	case len(warnings) > 0:
		w.Printf("%s: valid, %s (mode %s, max_age %d, %d mx)\n", name, textout.Plural(len(warnings), "warning"), p.Mode, p.MaxAge, len(p.MX))
	default:
		w.Printf("%s: valid (mode %s, max_age %d, %d mx)\n", name, p.Mode, p.MaxAge, len(p.MX))
	}
	for _, pr := range res.Problems {
		w.Textf("  %s: %s\n", pr.Severity, pr.text)
	}
	if w.Err != nil {
		return w.Err
	}
	return exitWith(verdictCode(res.Problems))
}
