package lru

import (
	"slices"
	"sync"
	"testing"
)

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](2)
	c.Put("a", 1)
	c.Put("b", 2)
	if _, ok := c.Get("a"); !ok { // a is now more recent than b
		t.Fatal("a missing")
	}
	c.Put("c", 3) // drops b
	if _, ok := c.Get("b"); ok {
		t.Error("b kept, want it dropped as least recently used")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if got, ok := c.Get(k); !ok || got != want {
			t.Errorf("Get(%q) = %d, %v; want %d, true", k, got, ok, want)
		}
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestPutReplacesAndDelete(t *testing.T) {
	c := New[string, int](0) // taken as 1
	c.Put("a", 1)
	c.Put("a", 2)
	if got, _ := c.Get("a"); got != 2 {
		t.Errorf("Get(a) = %d, want 2", got)
	}
	c.Delete("a")
	c.Delete("missing")
	if _, ok := c.Get("a"); ok || c.Len() != 0 {
		t.Errorf("after Delete: present %v, Len %d", ok, c.Len())
	}
}

func TestValues(t *testing.T) {
	c := New[int, int](10)
	for i := range 5 {
		c.Put(i, i*10)
	}
	got := c.Values(func(v int) bool { return v%20 == 0 })
	if want := []int{40, 20, 0}; !slices.Equal(got, want) {
		t.Errorf("Values = %v, want %v", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, int](50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.Put(i%100, g)
				c.Get(i % 77)
				if i%10 == 0 {
					c.Delete(i % 100)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 50 {
		t.Errorf("Len = %d, over the bound of 50", n)
	}
}
