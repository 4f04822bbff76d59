package tlsrptsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mtasts/mtasts/internal/testenv"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

// TestLogCollectorRestart stops the collector of real Postfix's log
// after every line in turn, with sessions open, and starts it again on
// the rest of the log: in the same file, in a file rotated while it was
// stopped, or with the rotated file gone. The store holds what one
// reading of the whole log counts, each session once; with the rotated
// file gone, what the lines before the stop and the new file count.
func TestLogCollectorRestart(t *testing.T) {
	data, err := os.ReadFile("testdata/postfix/postfix-3.7-real.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1] // after the last newline
	join := func(ls []string) string { return strings.Join(ls, "") }
	for k := 0; k <= len(lines); k++ {
		j := k + (len(lines)-k)/2
		for _, tc := range []struct {
			name string
			// after writes what is logged while the collector is
			// stopped, after the first k lines.
			after func(t *testing.T, path string)
			want  []string // the pieces of the log read, each from a fresh start
		}{
			{"same-file", func(t *testing.T, path string) { appendFile(t, path, join(lines[k:])) },
				[]string{join(lines)}},
			{"rotated", func(t *testing.T, path string) {
				appendFile(t, path, join(lines[k:j]))
				rename(t, path, path+".1")
				appendFile(t, path, join(lines[j:]))
			}, []string{join(lines)}},
			{"rotated-gone", func(t *testing.T, path string) {
				appendFile(t, path, join(lines[k:j]))
				rename(t, path, path+".1.gz")
				if err := os.Remove(path + ".1.gz"); err != nil {
					t.Fatal(err)
				}
				appendFile(t, path, join(lines[j:]))
			}, []string{join(lines[:k]), join(lines[j:])}},
		} {
			t.Run(tc.name+"/"+string(rune('a'+k)), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "mail.log")
				appendFile(t, path, join(lines[:k]))
				store := openStore(t)
				collect(t, store, path)
				tc.after(t, path)
				log := collect(t, store, path)
				if lost := strings.Contains(log.String(), "not found"); lost != (tc.name == "rotated-gone" && k > 0) {
					t.Errorf("warned of lost lines: %v; log:\n%s", lost, log)
				}
				want := openStore(t)
				for _, piece := range tc.want {
					rec := NewStoreRecorder(want)
					parseInto(t, piece, rec)
					if err := rec.Close(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				if diff := cmp.Diff(storedOutcomes(t, want), storedOutcomes(t, store), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
					t.Errorf("outcomes stored (-one reading +collector restarted):\n%s", diff)
				}
			})
		}
	}
}

// collect runs a LogCollector over path until it has read the whole
// file, then, for each of while, calls it and waits again for the whole
// file of path to be read, and stops the collector; it returns the
// collector's log.
func collect(t *testing.T, store *reportstore.Store, path string, while ...func()) *testenv.Buffer {
	t.Helper()
	log := &testenv.Buffer{}
	rec := NewStoreRecorder(store)
	c := &LogCollector{Parser: NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow),
		Path: path, Recorder: rec, Poll: time.Millisecond, Log: slog.New(slog.NewTextHandler(log, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for i := 0; ; i++ {
		waitRead(t, store, rec, path, done)
		if i == len(while) {
			break
		}
		while[i]()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("collector stopped with %v", err)
	}
	if err := rec.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return log
}

// waitRead waits until the cursor stored in store is at the end of the
// file at path, or the collector stops (done; nil for never).
func waitRead(t testing.TB, store *reportstore.Store, rec *StoreRecorder, path string, done <-chan error) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := fileID(info)
	for {
		if err := rec.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		s, err := store.OutcomeCursor(t.Context(), "postfix-log:"+path)
		if err != nil {
			t.Fatal(err)
		}
		var cur logCursor
		if s != "" {
			if err := json.Unmarshal([]byte(s), &cur); err != nil {
				t.Fatal(err)
			}
		}
		if cur.Dev == dev && cur.Ino == ino && cur.Done == info.Size() {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("collector stopped: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestLogCollectorRotation rotates the log while the collector runs,
// after every line in turn, the old file removed once the new one is
// read (compressed, as logrotate does the next day): the sessions that
// span the rotation are counted once, and a restart starts in the new
// file where the collector was.
func TestLogCollectorRotation(t *testing.T) {
	data, err := os.ReadFile("testdata/postfix/postfix-3.7-real.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1]
	for k := 0; k <= len(lines); k += 3 {
		path := filepath.Join(t.TempDir(), "mail.log")
		appendFile(t, path, strings.Join(lines[:k], ""))
		store := openStore(t)
		collect(t, store, path, func() {
			rename(t, path, path+".1")
			appendFile(t, path, strings.Join(lines[k:], ""))
		})
		if err := os.Remove(path + ".1"); err != nil {
			t.Fatal(err)
		}
		if log := collect(t, store, path); strings.Contains(log.String(), "not found") {
			t.Errorf("after %d lines: the restart did not resume in the new file:\n%s", k, log)
		}
		want := openStore(t)
		rec := NewStoreRecorder(want)
		parseInto(t, string(data), rec)
		if err := rec.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(storedOutcomes(t, want), storedOutcomes(t, store), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("rotated after %d lines: outcomes stored (-one reading +collector):\n%s", k, diff)
		}
	}
}

// parseInto records the outcomes of one fresh reading of log in rec.
func parseInto(t *testing.T, log string, rec Recorder) {
	t.Helper()
	p := NewPostfixParser(testPolicies{}, netip.MustParseAddr("192.0.2.1"), time.UTC, testNow)
	for _, l := range bytes.Split([]byte(log), []byte("\n")) {
		p.Parse(l, rec)
	}
}

// storedOutcomes returns the outcomes of every day and domain in store.
func storedOutcomes(t *testing.T, store *reportstore.Store) map[string][]tlsrpt.PolicyResult {
	t.Helper()
	totals, err := store.OutcomeTotals(t.Context(), time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]tlsrpt.PolicyResult{}
	for _, tot := range totals {
		prs, err := store.OutcomeResults(t.Context(), tot.Day, tot.Domain)
		if err != nil {
			t.Fatal(err)
		}
		got[tot.Day.Format(time.DateOnly)+" "+tot.Domain] = prs
	}
	return got
}

func openStore(t *testing.T) *reportstore.Store {
	t.Helper()
	store, err := reportstore.Open(t.Context(), sqliteURL(t), reportstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
