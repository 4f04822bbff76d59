// Package lru is a map with a size bound that forgets the least recently
// used key first. It backs the in-process policy cache of package cache and
// the DANE verdicts of package resolver.
package lru

import (
	"container/list"
	"sync"
)

// Cache maps keys to values and holds at most a fixed number of them. Get
// and Put mark a key as used; when a Put would exceed the bound, the key
// used least recently is dropped. A Cache is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order list.List // of *item[K, V]; front is the most recently used
	items map[K]*list.Element
}

type item[K comparable, V any] struct {
	key K
	val V
}

// New returns an empty Cache that holds at most size keys; size < 1 is
// taken as 1.
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{max: max(size, 1), items: map[K]*list.Element{}}
}

// Get returns the value of k and whether it was present, and marks k used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*item[K, V]).val, true
}

// Put sets the value of k, marks k used and, if the Cache is over its
// bound, drops the least recently used key.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value.(*item[K, V]).val = v
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&item[K, V]{key: k, val: v})
	if c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*item[K, V]).key)
	}
}

// Delete removes k, if present.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.order.Remove(el)
		delete(c.items, k)
	}
}

// Max returns the bound on the number of keys.
func (c *Cache[K, V]) Max() int { return c.max }

// Len returns how many keys the Cache holds.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Values returns the values for which keep returns true, most recently
// used first, without marking them used. keep runs with the Cache locked
// and must not call its methods.
func (c *Cache[K, V]) Values(keep func(V) bool) []V {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []V
	for el := c.order.Front(); el != nil; el = el.Next() {
		if v := el.Value.(*item[K, V]).val; keep(v) {
			out = append(out, v)
		}
	}
	return out
}
