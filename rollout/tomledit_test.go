package rollout

import (
	"os"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/sts"
)

func TestRewriteMode(t *testing.T) {
	in, err := os.ReadFile("testdata/tomledit/in.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		index int
		mode  sts.Mode
		old   string // the line that changes
		new   string // what it becomes
	}{
		{0, sts.ModeEnforce, `mode = "testing"   # promote when the reports are clean`, `mode = "enforce"   # promote when the reports are clean`},
		{1, sts.ModeNone, `  mode='testing'`, `  mode="none"`},
	} {
		got, err := rewriteMode(in, tc.index, tc.mode)
		if err != nil {
			t.Fatalf("rewriteMode(%d): %v", tc.index, err)
		}
		want := strings.Replace(string(in), tc.old+"\n", tc.new+"\n", 1)
		if string(got) != want {
			t.Errorf("rewriteMode(%d, %s):\n%s\nwant:\n%s", tc.index, tc.mode, got, want)
		}
		crlf := []byte(strings.ReplaceAll(string(in), "\n", "\r\n"))
		got, err = rewriteMode(crlf, tc.index, tc.mode)
		if err != nil || string(got) != strings.ReplaceAll(want, "\n", "\r\n") {
			t.Errorf("rewriteMode(%d) of a CRLF file changed the line endings: %q, %v", tc.index, got, err)
		}
	}
	if _, err := rewriteMode(in, 2, sts.ModeEnforce); err == nil || !strings.Contains(err.Error(), "no [[domain]] table number 3") {
		t.Errorf("rewriteMode of a missing table: %v", err)
	}
	noMode := []byte("[[domain]]\nname = \"a.example\"\nmode = \"\"\"testing\"\"\"\n[serve]\nmode = \"x\"\n")
	if _, err := rewriteMode(noMode, 0, sts.ModeEnforce); err == nil || !strings.Contains(err.Error(), "by hand") {
		t.Errorf("rewriteMode of an unusual mode line: %v", err)
	}
}

// FuzzRewriteMode checks that a rewrite changes one line at most, and
// only its mode value.
func FuzzRewriteMode(f *testing.F) {
	in, err := os.ReadFile("testdata/tomledit/in.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(in, 0)
	f.Add(in, 1)
	f.Add([]byte("[[domain]]\r\nmode = 'none' # x\r\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, index int) {
		out, err := rewriteMode(data, index, sts.ModeEnforce)
		if err != nil {
			return
		}
		before, after := strings.SplitAfter(string(data), "\n"), strings.SplitAfter(string(out), "\n")
		if len(before) != len(after) {
			t.Fatalf("%d lines became %d", len(before), len(after))
		}
		changed := 0
		for i := range before {
			if before[i] == after[i] {
				continue
			}
			changed++
			if !strings.Contains(after[i], `"enforce"`) || !modeLine.MatchString(strings.TrimRight(before[i], "\r\n")) {
				t.Errorf("line %q became %q", before[i], after[i])
			}
		}
		if changed > 1 {
			t.Errorf("%d lines changed", changed)
		}
	})
}
