package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/mtasts/mtasts/internal/textout"
	"github.com/mtasts/mtasts/web"
)

func newWebCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Make credentials for the TLS report dashboard",
		Long: `The TLS report dashboard of "mtasts serve" lets no one in without
credentials from its configuration: users, each with a bcrypt hash of a
password, and access tokens for scripts (sent as "Authorization: Bearer
TOKEN") or for signing in without a user name.

"mtasts web hash-password" makes the hash of a password, "mtasts web token"
a new random token. Neither stores anything: put what they print into the
configuration.`,
		Example: `  mtasts web hash-password
  printf '%s\n' "$PASSWORD" | mtasts web hash-password --json
  mtasts web token`,
	}
	cmd.AddCommand(newWebHashPasswordCmd(e), newWebTokenCmd(e))
	return cmd
}

func newWebHashPasswordCmd(e *env) *cobra.Command {
	var cost int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Print the bcrypt hash of a password for a dashboard user",
		Long: `Read a password and print its bcrypt hash, for a user of the TLS report
dashboard in the configuration of "mtasts serve".

On a terminal the password is asked for twice, without echo. Otherwise the
first line of standard input is the password. bcrypt reads at most 72 bytes;
a longer password is refused rather than cut.

Exit status: 0 with the hash printed, 3 when no usable password was given.`,
		Example: `  mtasts web hash-password
  mtasts web hash-password --cost 14 < password.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cost < bcrypt.DefaultCost || cost > bcrypt.MaxCost {
				return usageError(fmt.Errorf("--cost %d: want %d to %d", cost, bcrypt.DefaultCost, bcrypt.MaxCost))
			}
			password, err := readPassword(e)
			if err != nil {
				return usageError(err)
			}
			hash, err := web.HashPassword(password, cost)
			if err != nil {
				return usageError(err)
			}
			if asJSON {
				return textout.WriteJSON(e.stdout, map[string]string{"password_hash": hash})
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", hash)
			return err
		},
	}
	cmd.Flags().IntVar(&cost, "cost", web.DefaultPasswordCost, "bcrypt cost: each step doubles the work of a check")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the hash as JSON")
	return cmd
}

// readPassword asks for a password twice on a terminal, or reads the
// first line of standard input.
func readPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(e.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(e.stderr)
			return string(b), err
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		again, err := ask("Password again: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newWebTokenCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a new random access token for the dashboard",
		Long: `Print a new access token for the TLS report dashboard: 32 random bytes,
in unpadded base64url. Add it to the tokens of the dashboard in the
configuration of "mtasts serve"; scripts then send it as
"Authorization: Bearer TOKEN".

Exit status: 0.`,
		Example: `  mtasts web token
  mtasts web token --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token := web.NewToken()
			if asJSON {
				return textout.WriteJSON(e.stdout, map[string]string{"token": token})
			}
			_, err := fmt.Fprintln(e.stdout, token)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the token as JSON")
	return cmd
}
