package deliver_test

import (
	"slices"
	"testing"

	"github.com/mtasts/mtasts/deliver"
	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// sixMX publishes example.com with three MX hosts of preference 10, two
// of 20 and one of 30, listed out of order and none reachable (no
// address), so that the attempts show the order Send tried them in.
func sixMX(w *testworld.World) {
	w.DNS.Add(
		"example.com. MX 20 e.example.com.",
		"example.com. MX 30 f.example.com.",
		"example.com. MX 10 b.example.com.",
		"example.com. MX 10 c.example.com.",
		"example.com. MX 20 d.example.com.",
		"example.com. MX 10 a.example.com.",
	)
}

// hosts returns the hosts of res.Attempts, in order.
func hosts(res *deliver.Result) []string {
	var out []string
	for _, a := range res.Attempts {
		out = append(out, a.Host)
	}
	return out
}

// RFC 5321 §5.1: MX hosts are tried by preference, lowest first; the
// order among hosts of equal preference comes from Sender.Shuffle.
func TestSendMXOrderByPreference(t *testing.T) {
	w := testworld.New(t)
	sixMX(w)
	s := newSender(t, w)
	var sizes []int
	// Reverse each group, whatever its order on the wire.
	s.Shuffle = func(n int, swap func(i, j int)) {
		sizes = append(sizes, n)
		for i := range n / 2 {
			swap(i, n-1-i)
		}
	}
	res, err := send(t, s)
	checkErr(t, err, deliver.ErrTemporary)
	for _, a := range res.Attempts {
		if a.Outcome != deliver.OutcomeConnectFailed {
			t.Errorf("%s: outcome %s, want %s", a.Host, a.Outcome, deliver.OutcomeConnectFailed)
		}
	}
	// Groups are shuffled as given by DNS sorted by name (dnsx sorts
	// them), so reversed they are c b a, e d.
	want := []string{"c.example.com", "b.example.com", "a.example.com", "e.example.com", "d.example.com", "f.example.com"}
	if got := hosts(res); !slices.Equal(got, want) {
		t.Errorf("attempts in order %q, want %q", got, want)
	}
	if !slices.Equal(sizes[:2], []int{3, 2}) {
		t.Errorf("Shuffle called for groups of %v, want 3 then 2 (then 1)", sizes)
	}
}

// RFC 5321 §5.1: hosts of equal preference are tried in random order
// (the default Shuffle), and never before a host of lower preference.
func TestSendMXOrderRandomWithinPreference(t *testing.T) {
	w := testworld.New(t)
	sixMX(w)
	s := newSender(t, w)
	groups := [][]string{
		{"a.example.com", "b.example.com", "c.example.com"},
		{"d.example.com", "e.example.com"},
		{"f.example.com"},
	}
	// With 60 sends, a fair shuffle leaves a host never first in its
	// group with probability below 1e-10.
	first := map[string]bool{}
	for range 60 {
		res, _ := send(t, s)
		got := hosts(res)
		if len(got) != 6 {
			t.Fatalf("attempts %q, want all 6 hosts", got)
		}
		at := 0
		for _, g := range groups {
			part := got[at : at+len(g)]
			if sorted := slices.Sorted(slices.Values(part)); !slices.Equal(sorted, g) {
				t.Fatalf("attempts %q: positions %d-%d hold %q, want the preference group %q", got, at, at+len(g)-1, part, g)
			}
			first[part[0]] = true
			at += len(g)
		}
	}
	for _, g := range groups {
		for _, h := range g {
			if !first[h] {
				t.Errorf("%s was never tried first among its preference group in 60 sends", h)
			}
		}
	}
}
