// Command mtasts runs the whole life of SMTP transport security for a mail
// domain: it audits MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) deployments,
// generates and hosts policies, enforces them for a sending MTA and collects
// TLS reports.
//
// Run "mtasts help" for the list of commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mtasts/mtasts/internal/untrusted"
)

func main() {
	// SIGINT and SIGTERM cancel ctx, which every command honours; a
	// second signal ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], newEnv())
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit status.
func run(ctx context.Context, args []string, env *env) int {
	root := newRootCmd(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(env.stderr, "mtasts: %s\n", untrusted.EscapeLines(ee.err.Error()))
		}
		return ee.code
	}
	// Usage errors and failures to run at all.
	fmt.Fprintf(env.stderr, "mtasts: %s\n", untrusted.EscapeLines(err.Error()))
	return exitCannotRun
}
