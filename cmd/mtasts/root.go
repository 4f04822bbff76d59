package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/check"
	"github.com/mtasts/mtasts/internal/buildinfo"
	"github.com/mtasts/mtasts/internal/ctxio"
	"github.com/mtasts/mtasts/internal/textout"
)

// Exit statuses shared by every command that reports a verdict.
const (
	exitOK        = 0 // nothing wrong
	exitWarnings  = 1 // valid, with warnings
	exitErrors    = 2 // invalid or broken
	exitCannotRun = 3 // the command itself could not run (bad arguments, no resolver)
)

// statusCode is the exit status of a check.Status* verdict.
func statusCode(status string) int {
	switch status {
	case check.StatusError:
		return exitErrors
	case check.StatusWarning:
		return exitWarnings
	}
	return exitOK
}

// textWriter is a result that renders itself for people.
type textWriter interface{ WriteText(io.Writer) error }

// output prints v on standard output: as JSON when asJSON, else as text.
func output(e *env, asJSON bool, v textWriter) error {
	if asJSON {
		return textout.WriteJSON(e.stdout, v)
	}
	return v.WriteText(e.stdout)
}

// exitError carries an exit status out of a command. A nil err means the
// command already printed everything it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith returns an error that makes mtasts exit with code without
// printing anything more.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// env is what commands take from the process: streams, clock and, for
// tests, the network dialer. Commands never reach for globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	getenv         func(string) string
	// dial, when set, replaces the network dialer for outgoing TCP
	// connections (HTTPS and SMTP); tests point it at their own servers.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newEnv() *env {
	return &env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		now:    time.Now,
		getenv: os.Getenv,
	}
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "mtasts",
		Short: "MTA-STS and TLS-RPT for a mail domain: audit, publish, enforce, report",
		Long: `mtasts runs the whole life of SMTP transport security for a mail domain,
as specified by MTA-STS (RFC 8461) and SMTP TLS Reporting (RFC 8460).

It writes and validates policies, shows a domain's policy exactly as a
sending MTA sees it, and tells what is wrong and how to fix it.

Exit status of commands that give a verdict:
  0  everything is valid
  1  valid, with warnings
  2  invalid, or the policy cannot be used
  3  the command could not run: bad arguments, an unreadable file, or a DNS
     resolver that gives no reply at all (a resolver that answers SERVFAIL
     for a domain is a verdict about that domain)`,
		Version:       "-", // printed by the template below
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(buildinfo.Line())
	root.SetHelpCommand(newHelpCmd())
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(
		newVersionCmd(e),
		newPolicyCmd(e),
		newDaemonCmd(e),
		newQueryCmd(e), newOverrideCmd(e), newCacheCmd(e),
		newServeCmd(e),
		newCheckCmd(e),
		newReportsCmd(e),
		newTlsrptCmd(e),
		newWebCmd(e),
		newManCmd(e),
		newPromoteCmd(e), newDemoteCmd(e), newStatusCmd(e),
	)
	return root
}

// newHelpCmd replaces cobra's help command, which exits 0 for a topic it
// does not know, with one that exits exitCannotRun.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help explains any command, with examples: mtasts help check.",
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			c, _, err := cmd.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range c.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, rest, err := cmd.Root().Find(args)
			if err != nil || c == nil || len(rest) > 0 {
				return &exitError{code: exitCannotRun, err: fmt.Errorf("no help for %q: run \"mtasts help\" for the list of commands", strings.Join(args, " "))}
			}
			c.InitDefaultHelpFlag()
			c.InitDefaultVersionFlag()
			return c.Help()
		},
	}
}

// stdinUntil returns standard input for a command that runs until ctx
// ends: see ctxio.NewReader.
func (e *env) stdinUntil(ctx context.Context) io.Reader { return ctxio.NewReader(ctx, e.stdin) }
