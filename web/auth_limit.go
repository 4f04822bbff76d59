package web

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// LoginLimits bound the logins whose credentials are checked. Zero fields
// mean the defaults.
type LoginLimits struct {
	// PerClient is how many attempts one client (an IPv4 address, or
	// the /64 of an IPv6 address) may make in any Window; 0 means 10.
	PerClient int
	// PerUser is how many attempts may name one user, from all clients
	// together, in any Window; 0 means 30. Reaching it refuses the
	// user's logins, even with the right password, until the oldest
	// attempt leaves the window; access tokens still work.
	PerUser int
	// Window is the period the limits count in; 0 means 15 minutes.
	Window time.Duration
}

// Defaults of LoginLimits.
const (
	defaultLoginsPerClient = 10
	defaultLoginsPerUser   = 30
	defaultLoginWindow     = 15 * time.Minute
	// maxLoginKeys bounds the clients that attempts are kept for. When
	// the table is full of clients with attempts in the window, logins
	// from new clients are refused: the limits must hold even against
	// more addresses than memory allows to count.
	maxLoginKeys = 1 << 16
	// unknownNameBuckets is how many keys the names of no user count
	// under: see authenticator.limitKey.
	unknownNameBuckets = 4096
)

// withDefaults returns l with its zero or negative fields set to the
// defaults.
func (l LoginLimits) withDefaults() LoginLimits {
	return LoginLimits{
		PerClient: cmp.Or(max(l.PerClient, 0), defaultLoginsPerClient),
		PerUser:   cmp.Or(max(l.PerUser, 0), defaultLoginsPerUser),
		Window:    cmp.Or(max(l.Window, 0), defaultLoginWindow),
	}
}

// loginLimiter enforces LoginLimits. An attempt takes its place (reserve)
// before its credentials are checked, and gives it back (release) only if
// they were right or were never checked: a failed attempt keeps its place
// until it leaves the window. So a burst of concurrent attempts, such as
// hundreds of streams on one HTTP/2 connection, checks no more than the
// limit however the checks interleave, and at most the limit is checked in
// any period of one window.
type loginLimiter struct {
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	clients attemptTable[netip.Prefix]
	users   attemptTable[string]
}

// attemptTable holds the times of the attempts that count: at most limit
// per key, for at most maxKeys keys.
type attemptTable[K comparable] struct {
	limit, maxKeys int
	times          map[K][]time.Time
	// pruned is when the table was last pruned: a full table is pruned
	// at most once per window/pruneDivisor, as pruning reads it all.
	pruned time.Time
}

// pruneDivisor: see attemptTable.pruned.
const pruneDivisor = 16

func newLoginLimiter(l LoginLimits, now func() time.Time) *loginLimiter {
	l = l.withDefaults()
	return &loginLimiter{window: l.Window, now: now,
		clients: attemptTable[netip.Prefix]{limit: l.PerClient, maxKeys: maxLoginKeys, times: map[netip.Prefix][]time.Time{}},
		users:   attemptTable[string]{limit: l.PerUser, maxKeys: maxLoginKeys, times: map[string][]time.Time{}}}
}

// loginReservation is the place an attempt took in the limits.
type loginReservation struct {
	l      *loginLimiter
	client netip.Prefix
	// user is the key of the user name (authenticator.limitKey); ""
	// for a token login, which is limited per client only.
	user string
	at   time.Time
	// last says that the attempt took the last place of its client or
	// user: the next ones are refused.
	last bool
}

// reserve takes a place for an attempt from the client of r, naming the
// user of key user ("" for an access token). If the client or the user
// has no place left, it returns nil and how long until one frees.
func (l *loginLimiter) reserve(r *http.Request, user string) (*loginReservation, time.Duration) {
	now := l.now()
	res := &loginReservation{l: l, client: clientPrefix(r), user: user, at: now}
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := l.clients.wait(res.client, now, l.window)
	if user != "" {
		wait = max(wait, l.users.wait(user, now, l.window))
	}
	if wait > 0 {
		return nil, wait
	}
	res.last = l.clients.add(res.client, now)
	if user != "" {
		res.last = l.users.add(user, now) || res.last
	}
	return res, 0
}

// release gives the place back: the credentials were right, or were not
// checked.
func (res *loginReservation) release() {
	l := res.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients.remove(res.client, res.at)
	if res.user != "" {
		l.users.remove(res.user, res.at)
	}
}

// wait forgets k's attempts that left the window and returns how long
// until k may attempt again: 0 if it has a place now. A new key finds no
// place while the table is full of keys with attempts in the window; it
// is told to come back when the table is pruned next.
func (t *attemptTable[K]) wait(k K, now time.Time, window time.Duration) time.Duration {
	since := now.Add(-window)
	times, known := t.times[k]
	if !known && len(t.times) >= t.maxKeys {
		if now.Sub(t.pruned) >= window/pruneDivisor {
			t.prune(since)
			t.pruned = now
		}
		if len(t.times) >= t.maxKeys {
			return max(window/pruneDivisor, time.Second)
		}
	}
	times = dropUpTo(times, since)
	if len(times) == 0 {
		delete(t.times, k)
		return 0
	}
	t.times[k] = times
	if len(times) < t.limit {
		return 0
	}
	// The oldest attempt leaves the window a window after it was made.
	return max(times[0].Sub(since), time.Second)
}

// add counts an attempt of k at time at, and reports whether it was the
// last k has a place for.
func (t *attemptTable[K]) add(k K, at time.Time) bool {
	t.times[k] = append(t.times[k], at)
	return len(t.times[k]) >= t.limit
}

// remove takes back an attempt of k made at time at.
func (t *attemptTable[K]) remove(k K, at time.Time) {
	times := t.times[k]
	if i := slices.IndexFunc(times, at.Equal); i >= 0 {
		times = slices.Delete(times, i, i+1)
	}
	if len(times) == 0 {
		delete(t.times, k)
		return
	}
	t.times[k] = times
}

// prune forgets the keys without attempts after since.
func (t *attemptTable[K]) prune(since time.Time) {
	for k, times := range t.times {
		if len(dropUpTo(times, since)) == 0 {
			delete(t.times, k)
		}
	}
}

// dropUpTo returns the times after since, of times in order.
func dropUpTo(times []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(since) {
		i++
	}
	return times[i:]
}

// limitKey is the key that logins naming user count under, per user: the
// name of a configured user, or for a name that is no one's, one of
// unknownNameBuckets keys chosen by a MAC of the name. So names that are
// no one's are limited as users' names are, and answer alike, yet cannot
// fill the table however many there are. "" (a token login) stays "".
func (a *authenticator) limitKey(user string) string {
	if user == "" {
		return ""
	}
	if _, ok := a.users[user]; ok {
		return "user " + user
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte("login-limit"))
	mac.Write([]byte(user))
	return "unknown " + strconv.FormatUint(binary.BigEndian.Uint64(mac.Sum(nil))%unknownNameBuckets, 10)
}

// clientPrefix is the client that attempts are counted for: the remote
// IPv4 address or its IPv6 /64.
func clientPrefix(r *http.Request) netip.Prefix {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	addr := ap.Addr().Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}
