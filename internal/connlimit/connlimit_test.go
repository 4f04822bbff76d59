package connlimit

import "testing"

// TestCounter checks both limits, that a refusal counts nothing, and that
// a release makes room again; 0 is no limit.
func TestCounter(t *testing.T) {
	c := New[string](3, 2)
	for i, tc := range []struct {
		client, want string
	}{
		{"a", ""}, {"a", ""}, {"a", PerClient}, {"b", ""}, {"c", Total},
	} {
		if got := c.Acquire(tc.client); got != tc.want {
			t.Errorf("acquire %d (%s) = %q, want %q", i, tc.client, got, tc.want)
		}
	}
	if all, a := c.Open("a"); all != 3 || a != 2 {
		t.Errorf("open %d, of a %d; want 3 and 2", all, a)
	}
	c.Release("a")
	if got := c.Acquire("c"); got != "" {
		t.Errorf("after a release: %q", got)
	}
	if all, a := c.Open("a"); all != 3 || a != 1 {
		t.Errorf("open %d, of a %d; want 3 and 1", all, a)
	}
	unlimited := New[int](0, 0)
	for i := range 1000 {
		if got := unlimited.Acquire(i % 2); got != "" {
			t.Fatalf("no limits: %q", got)
		}
	}
}
