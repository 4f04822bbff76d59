package socketmap

import (
	"time"
)

// Bounds of DefaultMaxConnections.
const (
	// MinDefaultMaxConnections is the least connection limit derived from
	// the limit on open files.
	MinDefaultMaxConnections = 64
	// MaxDefaultMaxConnections is the most: an idle connection holds two
	// goroutines and a read buffer, about 10 KiB, so that this many hold
	// some 100 MiB. Postfix opens one connection per smtp(8) process.
	MaxDefaultMaxConnections = 10000
	// DefaultPressureIdleTimeout is the idle time after which connections
	// are closed above PressureConnections. Postfix reconnects when it
	// finds its connection closed, so this costs it one connect.
	DefaultPressureIdleTimeout = time.Second
)

// refusalLogInterval is the least time between two log lines about
// refused connections.
const refusalLogInterval = time.Minute

// DefaultMaxConnections returns the connection limit of a Server whose
// MaxConnections is 0: half the process's soft limit on open files
// (RLIMIT_NOFILE; Go raises it to the hard limit at startup), which
// leaves the other half to lookups, the cache and logs, but at least
// MinDefaultMaxConnections and at most MaxDefaultMaxConnections.
func DefaultMaxConnections() int {
	n, ok := openFileLimit()
	if !ok {
		return MaxDefaultMaxConnections
	}
	return int(min(max(n/2, MinDefaultMaxConnections), MaxDefaultMaxConnections))
}

// Stats counts a Server's connections, for metrics. All but Open only
// grow.
type Stats struct {
	// Open is the number of connections open now, counting those closed
	// to make room until their goroutines have finished.
	Open int
	// Accepted counts the connections served.
	Accepted uint64
	// Refused counts the connections closed at once, unserved, because
	// MaxConnections were open and none was idle.
	Refused uint64
	// Evicted counts the idle connections closed to make room for new
	// ones: at MaxConnections, or above PressureConnections once idle for
	// PressureIdleTimeout.
	Evicted uint64
}

// Stats returns the server's connection counters. It is cheap enough to
// call on every scrape of a metrics endpoint.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Open = len(s.conns)
	return st
}

// limits are the effective connection limits, with defaults applied.
type limits struct {
	max, pressure int // 0: no limit
	pressureIdle  time.Duration
}

func (s *Server) limits() limits {
	if s.MaxConnections < 0 {
		return limits{}
	}
	l := limits{max: s.MaxConnections, pressure: s.PressureConnections}
	if l.max == 0 {
		l.max = DefaultMaxConnections()
	}
	if l.pressure <= 0 || l.pressure > l.max {
		l.pressure = l.max - l.max/4
	}
	l.pressureIdle = orDefault(s.PressureIdleTimeout, DefaultPressureIdleTimeout)
	return l
}

// admitLocked decides whether a new connection may be served, closing
// idle connections to make room; s.mu must be held. Above the pressure
// mark it closes the connections idle for longer than the pressure idle
// timeout; at the limit, the one idle the longest. It reports false when
// the limit is reached and no connection is idle.
//
// Connections closed to make room no longer count against the limit,
// though they hold their descriptors until their goroutines finish (at
// once, or after a request that raced with the closing): the connections
// past the limit are only those on their way out.
func (s *Server) admitLocked(now time.Time) bool {
	if s.lim.max == 0 {
		return true
	}
	open := len(s.conns) - s.leaving
	if open >= s.lim.pressure {
		for c := s.idle.head; c != nil && now.Sub(c.idleSince) >= s.lim.pressureIdle; {
			next := c.idleNext
			if s.evictLocked(c) {
				open--
			}
			c = next
		}
	}
	for open >= s.lim.max {
		c := s.idle.head
		if c == nil {
			return false
		}
		if s.evictLocked(c) {
			open--
		}
	}
	return true
}

// evictLocked takes c off the idle list and closes it if it is still
// idle, and reports whether it did; s.mu must be held.
func (s *Server) evictLocked(c *conn) bool {
	s.idle.remove(c)
	if !c.evict() {
		return false
	}
	c.leaving = true
	s.leaving++
	s.stats.Evicted++
	return true
}

// refusedLocked counts a refused connection and returns how many were
// refused since the last log line about them, when it is time for the
// next one, or 0; s.mu must be held.
func (s *Server) refusedLocked(now time.Time) uint64 {
	s.stats.Refused++
	s.unlogged++
	if !s.refusalLogged.IsZero() && now.Sub(s.refusalLogged) < refusalLogInterval {
		return 0
	}
	n := s.unlogged
	s.refusalLogged, s.unlogged = now, 0
	return n
}

// setIdle puts c on the idle list, at its end, unless it is on it: the
// order of the list is the order in which connections began to wait.
func (s *Server) setIdle(c *conn, since time.Time) {
	if s.lim.max == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.idleListed && !c.leaving {
		c.idleSince = since
		s.idle.pushBack(c)
	}
}

// setBusy takes c off the idle list.
func (s *Server) setBusy(c *conn) {
	if s.lim.max == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle.remove(c)
}

// idleList links the connections that wait for a request, in the order
// in which they began to wait, through their fields idlePrev and
// idleNext. It is guarded by Server.mu.
type idleList struct {
	head, tail *conn
}

func (l *idleList) pushBack(c *conn) {
	c.idlePrev, c.idleNext = l.tail, nil
	if l.tail != nil {
		l.tail.idleNext = c
	} else {
		l.head = c
	}
	l.tail = c
	c.idleListed = true
}

// remove takes c off the list if it is on it.
func (l *idleList) remove(c *conn) {
	if !c.idleListed {
		return
	}
	if c.idlePrev != nil {
		c.idlePrev.idleNext = c.idleNext
	} else {
		l.head = c.idleNext
	}
	if c.idleNext != nil {
		c.idleNext.idlePrev = c.idlePrev
	} else {
		l.tail = c.idlePrev
	}
	c.idlePrev, c.idleNext, c.idleListed = nil, nil, false
}
