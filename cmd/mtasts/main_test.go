package main

import (
	"bytes"
	"context"
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
}
