package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyLintBadInput lints policies made to hurt: a byte order mark,
// a line of 10 MiB, escape sequences, a file of 2 MiB. The output names
// the problem, quotes at most a short excerpt, and holds no control
// character.
func TestPolicyLintBadInput(t *testing.T) {
	const good = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n"
	huge := strings.Repeat("x", 10<<20)
	for _, tc := range []struct {
		name, policy string
		code         int
		want         string
	}{
		{"bom", "\ufeff" + good, exitErrors, `key "\ufeffversion" must begin with a letter or digit, not a UTF-8 byte order mark (bytes EF BB BF)`},
		{"long line", good + huge[:900<<10] + "\n", exitErrors, `line 5: line "` + huge[:40] + `"… (921600 bytes) has no ":"`},
		{"long value", "version: STSv1\nmode: " + huge[:900<<10] + "\n", exitErrors, `line 2: mode "` + huge[:40] + `"… (921600 bytes) must be`},
		{"escape", "version: STSv1\nmode: enf\x1b]0;pwned\x07orce\n", exitErrors, `mode "enf\x1b]0;pwned\aorce" holds the control character '\x1b'`},
		{"too large", good + huge, exitErrors, "policy is over 1024 KiB; senders read at most 64 KiB of it (RFC 8461 §3.3)"},
		{"latin-1", "versión: STSv1\n" + good, exitErrors, `'ó' (U+00F3) is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mta-sts.txt")
			if err := os.WriteFile(path, []byte(tc.policy), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"policy", "lint", path}, {"policy", "lint", "-"}} {
				stdin := ""
				if args[2] == "-" {
					stdin = tc.policy
				}
				r := runCmd(t, nil, stdin, args...)
				if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
					t.Errorf("lint %s: exit %d, want %d; output lacks %s:\n%.1000s", args[2], r.code, tc.code, tc.want, r.stdout)
				}
				if len(r.stdout) > 1000 {
					t.Errorf("lint %s: %d bytes of output", args[2], len(r.stdout))
				}
				if c := rawControl(r.stdout); len(c) > 0 {
					t.Errorf("lint %s writes control characters %q", args[2], c)
				}
			}
		})
	}
}
