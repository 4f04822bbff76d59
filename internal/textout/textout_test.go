package textout

import (
	"bytes"
	"errors"
	"testing"
)

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("full")
}

func TestWriterKeepsFirstError(t *testing.T) {
	f := &failWriter{}
	w := &Writer{W: f}
	w.Printf("a")
	w.Printf("b")
	if w.Err == nil || f.n != 1 {
		t.Fatalf("err %v after %d writes, want an error after 1", w.Err, f.n)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 reports", 1: "1 report", 2: "2 reports"} {
		if got := Plural(n, "report"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]string{"a": "<b>"}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": \"<b>\"\n}\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
