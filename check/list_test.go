package check

import (
	"slices"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	l := NewList(strings.NewReader("example.com\n  # a comment\n\n1,example.org # top site\n rank,with,commas.example \r\n"), "list")
	got := slices.Collect(l.All())
	want := []string{"example.com", "example.org", "commas.example"}
	if !slices.Equal(got, want) || l.Err() != nil {
		t.Errorf("All = %q, Err %v; want %q", got, l.Err(), want)
	}
	long := NewList(strings.NewReader("a.example\n"+strings.Repeat("x", maxListLine+1)+"\n"), "long")
	if got := slices.Collect(long.All()); len(got) != 1 || long.Err() == nil || !strings.Contains(long.Err().Error(), "reading long, line 2") {
		t.Errorf("a line over %d bytes: All = %q, Err %v", maxListLine, got, long.Err())
	}
}
