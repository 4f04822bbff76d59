package tlsrptsend

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFollower follows a log through a partial line, rotation by rename
// and create (with a last line written to the old file after the rename,
// as syslog does until it reopens), and truncation in place
// (copytruncate): every line is read exactly once, in order.
func TestFollower(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	appendFile := func(p, s string) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	appendFile(path, "one\ntwo\n")
	fl, err := NewFollower(path, false, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			l, err := fl.ReadLine(ctx)
			if err != nil {
				return
			}
			lines <- string(l)
		}
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case got := <-lines:
				if got != w {
					t.Fatalf("read %q, want %q", got, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("line %q never read", w)
			}
		}
	}
	expect("one", "two")
	appendFile(path, "thr")
	appendFile(path, "ee\n")
	expect("three")

	// Rotation: rename, a last line to the old file, a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(path+".1", "four (old file)\n")
	appendFile(path, "five (new file)\nsix\n")
	expect("four (old file)", "five (new file)", "six")

	// copytruncate: the file shrinks under the reader.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(path, "7\n")
	expect("7")
	appendFile(path, strings.Repeat("x", 100)+"\n")
	expect(strings.Repeat("x", 100))
	cancel()
	for range lines {
		t.Error("line after cancel")
	}
}

// TestPostfixLogStream reads a log from a stream (as from journalctl on
// stdin), including a last line without newline, and a line longer than
// any buffer, which is cut and counted as not a log line.
func TestPostfixLogStream(t *testing.T) {
	log, err := os.ReadFile("testdata/postfix/journald-short-iso.log")
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Repeat("z", 3*maxLineLen) + "\n" + strings.TrimSuffix(string(log), "\n")
	p := NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow)
	n := 0
	src := &PostfixLog{Parser: p, Reader: strings.NewReader(in)}
	if err := src.Run(t.Context(), RecorderFunc(func(Outcome) { n++ })); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); n != 9 || st.NotSyslog != 1 || st.Lines != int64(strings.Count(in, "\n")+1) {
		t.Errorf("%d outcomes, stats %+v; want 9 outcomes and 1 line not in a log format", n, st)
	}
}

// TestFollowerFromEnd starts at the end of the file: only lines written
// afterwards are read; a missing file is an error.
func TestFollowerFromEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fl, err := NewFollower(path, true, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new\n")
	f.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if l, err := fl.ReadLine(ctx); err != nil || string(l) != "new" {
		t.Errorf("ReadLine = %q, %v; want new", l, err)
	}
	if _, err := NewFollower(filepath.Join(t.TempDir(), "none"), false, 0); err == nil {
		t.Error("following a missing file succeeded")
	}
}
