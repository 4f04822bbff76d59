package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// testNow is the clock of command tests.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// cmdResult is the outcome of one in-process run of mtasts.
type cmdResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs mtasts with args in-process, with stdin as standard input
// and, if w is not nil, outgoing connections going into the test world.
func runCmd(t *testing.T, w *testworld.World, stdin string, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		now:    func() time.Time { return testNow },
		getenv: func(string) string { return "" },
	}
	if w != nil {
		e.dial = w.DialContext
	}
	code := run(context.Background(), args, e)
	return cmdResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestVersion(t *testing.T) {
	r := runCmd(t, nil, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "mtasts ") {
		t.Errorf("version: code %d, stdout %q", r.code, r.stdout)
	}
}

func TestVersionFlag(t *testing.T) {
	flag, cmd := runCmd(t, nil, "", "--version"), runCmd(t, nil, "", "version")
	if flag.code != 0 || flag.stdout != cmd.stdout {
		t.Errorf("--version: code %d, stdout %q; version: %q", flag.code, flag.stdout, cmd.stdout)
	}
}

func TestHelpTopics(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, 0, "Available Commands"},
		{[]string{"help", "policy", "fetch"}, 0, "RFC 8461"},
		{[]string{"help", "nosuch"}, exitCannotRun, `no help for "nosuch"`},
		{[]string{"help", "policy", "nosuch"}, exitCannotRun, `no help for "policy nosuch"`},
	} {
		r := runCmd(t, nil, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%v: code %d, want %d; output %q", tc.args, r.code, tc.code, r.stdout+r.stderr)
		}
	}
}

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if r := runCmd(t, nil, "", "man", "--dir", dir); r.code != 0 {
		t.Fatalf("man: code %d, stderr %q", r.code, r.stderr)
	}
	for _, name := range []string{"mtasts.1", "mtasts-check.1", "mtasts-policy-fetch.1", "mtasts-daemon.1", "mtasts-serve.1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Contains(b, []byte(".TH ")) || !bytes.Contains(b, []byte("SYNOPSIS")) {
			t.Errorf("%s is not a manual page: %.200q", name, b)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runCmd(t, nil, "", "no-such-command")
	if r.code != exitCannotRun || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("code %d, stderr %q", r.code, r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	r := runCmd(t, nil, "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_mtasts") {
		t.Errorf("completion bash: code %d, %d bytes", r.code, len(r.stdout))
	}
	// Flags with a fixed set of values complete them.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--color", ""}, "auto\nalways\nnever\n:4\n"},
		{[]string{"reports", "export", "--format", ""}, "csv\njson\n:4\n"},
		{[]string{"daemon", "--log-format", ""}, "text\njson\n:4\n"},
		{[]string{"help", "pol"}, "policy\t"},
	} {
		r := runCmd(t, nil, "", append([]string{"__complete"}, tc.args...)...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tc.want) {
			t.Errorf("completion of %q: %q, want %q", tc.args, r.stdout, tc.want)
		}
	}
}
