package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/mtasts/mtasts/internal/untrusted"
	"github.com/mtasts/mtasts/reportstore"
)

// injectionReport is a report whose text members carry terminal escape
// sequences and spreadsheet formulas.
const injectionReport = `{"organization-name": "Evil\u001b]0;owned\u0007 Corp\r=HYPERLINK(\"http://x\")",
	"report-id": "=1+2", "contact-info": "\u001b[2Jclear@example.net",
	"date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
	"policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com",
			"policy-string": ["version: STSv1", "mode: testing\u001b[31m", "mx: mx1.example.com", "max_age: 86400"],
			"mx-host": ["mx1.example.com\u009b"]},
		"summary": {"total-successful-session-count": 1, "total-failure-session-count": 2},
		"failure-details": [{"result-type": "@SUM(A1)", "sending-mta-ip": "192.0.2.7", "receiving-ip": "192.0.2.25",
			"receiving-mx-hostname": "-2+3", "failed-session-count": 2,
			"failure-reason-code": "+cmd|' /C calc'!A0", "additional-information": "\tinfo\u202e"}]}]}`

// rawControl returns the control characters (but newlines) and bidi
// overrides in s.
func rawControl(s string) []rune {
	var found []rune
	for _, r := range s {
		if r != '\n' && untrusted.NeedsEscape(r) {
			found = append(found, r)
		}
	}
	return found
}

// TestReportsOutputEscaped runs every command that shows report text to
// people on a report full of escape sequences, stored by a file name that
// has some too: no control character reaches the terminal.
func TestReportsOutputEscaped(t *testing.T) {
	db := reportsDB(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "evil\x1b]0;title\x07.json")
	if err := os.WriteFile(path, []byte(injectionReport), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage\r.json")
	if err := os.WriteFile(garbage, []byte("{\"x\x1b[31m\": 1}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"reports", "import", db, "--dkim", "off", path, garbage},
		{"reports", "list", db},
		{"reports", "show", db, "1"},
		{"reports", "summary", db},
		{"reports", "quarantine", db},
		{"reports", "delete", db, "1"},
	} {
		r := runCmd(t, nil, "n\n", args...)
		if r.code == exitCannotRun {
			t.Errorf("%s: exit %d\n%s", args[1], r.code, r.stderr)
		}
		for _, out := range []string{r.stdout, r.stderr} {
			if c := rawControl(out); len(c) > 0 {
				t.Errorf("%s writes control characters %q:\n%s", args[1], c, out)
			}
		}
		if args[1] == "show" && !strings.Contains(r.stdout, `report 1: Evil\x1b]0;owned\a Corp\r=HYPERLINK("http://x"), report-id =1+2`) {
			t.Errorf("show does not write the escaped organisation:\n%s", r.stdout)
		}
	}
}

// TestErrorsEscaped checks that the error line of a command that could not
// run escapes what it quotes, here a store path with an escape sequence.
func TestErrorsEscaped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evil\u202egpj.\u009b[2J")
	r := runCmd(t, nil, "", "reports", "list", "--db", "sqlite://"+filepath.Join(dir, "x.db"))
	if r.code != exitCannotRun || !strings.Contains(r.stderr, `evil\u202egpj.\u009b[2J does not exist`) || len(rawControl(r.stderr)) > 0 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestReportsExportNeutralisesFormulas checks OWASP's rule for CSV
// injection: cells that start with =, +, -, @, tab or CR get a "'".
func TestReportsExportNeutralisesFormulas(t *testing.T) {
	db := reportsDB(t)
	path := filepath.Join(t.TempDir(), "formulas.json")
	if err := os.WriteFile(path, []byte(injectionReport), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", path); r.code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runCmd(t, nil, "", "reports", "export", db, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %v\n%s", err, r.stdout)
	}
	cell := map[string]string{}
	for i, name := range rows[0] {
		cell[name] = rows[1][i]
	}
	for col, want := range map[string]string{
		"report_id":             "'=1+2",
		"result_type":           "'@SUM(A1)",
		"receiving_mx_hostname": "'-2+3",
		"failure_reason_code":   "'+cmd|' /C calc'!A0",
		"organization":          "Evil\x1b]0;owned\x07 Corp\r=HYPERLINK(\"http://x\")", // starts with a letter: kept
		"failed_session_count":  "2",
	} {
		if cell[col] != want {
			t.Errorf("%s = %q, want %q", col, cell[col], want)
		}
	}
	for _, c := range []string{"=x", "+x", "-x", "@x", "\tx", "\rx"} {
		if got := reportstore.CSVCell(c); got != "'"+c {
			t.Errorf("CSVCell(%q) = %q", c, got)
		}
	}
}

// openPTY returns the two ends of a new pseudo-terminal, the terminal
// end in raw mode (no output processing).
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		t.Fatal(err)
	}
	return master, tty
}

// TestReportsRawOnTerminal writes a stored report with --raw: byte for
// byte into a pipe, escaped on a terminal.
func TestReportsRawOnTerminal(t *testing.T) {
	db := reportsDB(t)
	path := filepath.Join(t.TempDir(), "evil.json")
	if err := os.WriteFile(path, []byte(injectionReport), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, nil, "", "reports", "import", db, "--dkim", "off", path); r.code != exitOK {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "reports", "show", db, "--raw", "1"); r.stdout != injectionReport {
		t.Errorf("show --raw into a pipe changed the bytes:\n%q", r.stdout)
	}

	master, tty := openPTY(t)
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // until the terminal end closes (EIO)
		read <- string(b)
	}()
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: tty, stderr: &stderr, now: func() time.Time { return testNow }, getenv: func(string) string { return "" }}
	if code := run(context.Background(), []string{"reports", "show", db, "--raw", "1"}, e); code != exitOK {
		t.Fatalf("show --raw on a terminal: exit %d\n%s", code, stderr.String())
	}
	tty.Close()
	out := <-read
	if c := rawControl(out); len(c) > 0 || !strings.Contains(out, `"Evil\u001b]0;owned\u0007 Corp\r=HYPERLINK`) {
		t.Errorf("show --raw on a terminal wrote control characters %q:\n%s", c, out)
	}
}
