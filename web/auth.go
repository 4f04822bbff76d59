package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Auth says who may use the dashboard. There is no anonymous access: it
// must name at least one user or token.
type Auth struct {
	// Users sign in with a name and a password.
	Users []User
	// Tokens are access tokens of at least 16 characters. Scripts send
	// one as "Authorization: Bearer TOKEN"; people may enter one in the
	// login form in place of a password, with no user name.
	Tokens []string
	// SessionKey signs session cookies; at least 32 bytes. Processes
	// that serve one dashboard behind one name share it. Nil means a
	// random key, so that sessions end when the process stops.
	SessionKey []byte
	// SessionLifetime is how long a session lasts; 0 means 12 hours.
	SessionLifetime time.Duration
	// Limits bound the logins that are checked.
	Limits LoginLimits
}

// User is a person who may sign in.
type User struct {
	Name string
	// PasswordHash is the bcrypt hash of the password, such as
	// "mtasts web hash-password" prints.
	PasswordHash string
}

// Limits of authentication.
const (
	defaultSessionLifetime = 12 * time.Hour
	minTokenLength         = 16
	minSessionKey          = 32
)

// bcryptSlots bounds the password checks that run at once: each takes
// tens to hundreds of milliseconds of CPU on purpose, and a burst of them
// must leave CPUs for everything else. Half the CPUs, at least one.
func bcryptSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// maxPasswordWaits bounds the logins waiting for a slot; beyond it a
// login is answered at once that the server is busy. Together with the
// login limits, it bounds what a burst of logins from many clients holds.
const maxPasswordWaits = 256

// Errors of authentication.
var (
	// errBadToken is the error of a request with a wrong bearer token.
	errBadToken = errors.New("invalid bearer token")
	// errBusy means that too many logins wait for their check.
	errBusy = errors.New("too many logins waiting to be checked")
)

// identity is who made an authenticated request.
type identity struct {
	// Name is the user name, or "token" for a token.
	Name string
	// Session is the session of a browser; nil for a bearer token.
	Session *session
	// CSRF is the token that the forms of the session carry.
	CSRF string
}

// authenticator checks credentials and keeps the state of logins.
type authenticator struct {
	users map[string][]byte // name → bcrypt hash
	// tokens are the SHA-256 digests of the access tokens, compared in
	// constant time.
	tokens [][sha256.Size]byte
	// dummy is a bcrypt hash checked for unknown users, so that their
	// answer takes as long as a wrong password's.
	dummy    []byte
	key      []byte
	lifetime time.Duration
	now      func() time.Time
	// slots hold the password checks running; compare is the check.
	slots   chan struct{}
	compare func(hash, password []byte) error
	// waits counts the checks waiting for a slot, up to maxWaits.
	waits    atomic.Int32
	maxWaits int32
	// limits bounds the logins checked.
	limits *loginLimiter
	// revoked holds the sessions signed out.
	revoked revocations
}

func newAuthenticator(o Auth, now func() time.Time, revoked revocations) (*authenticator, error) {
	if len(o.Users) == 0 && len(o.Tokens) == 0 {
		return nil, errors.New("web: no user and no token configured: the dashboard allows no anonymous access")
	}
	a := &authenticator{users: map[string][]byte{}, key: o.SessionKey, lifetime: o.SessionLifetime, now: now,
		slots: make(chan struct{}, bcryptSlots()), compare: bcrypt.CompareHashAndPassword, maxWaits: maxPasswordWaits,
		limits: newLoginLimiter(o.Limits, now), revoked: revoked}
	for _, u := range o.Users {
		if err := checkUserName(u.Name); err != nil {
			return nil, err
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("web: user %q is configured twice", u.Name)
		}
		cost, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("web: user %q: the password hash is not a bcrypt hash (make one with \"mtasts web hash-password\"): %w", u.Name, err)
		}
		a.users[u.Name] = []byte(u.PasswordHash)
		if a.dummy == nil {
			if a.dummy, err = bcrypt.GenerateFromPassword([]byte(rand.Text()), cost); err != nil {
				return nil, fmt.Errorf("web: %w", err)
			}
		}
	}
	for i, t := range o.Tokens {
		if len(t) < minTokenLength || strings.ContainsFunc(t, unicode.IsSpace) {
			return nil, fmt.Errorf("web: token %d: a token must have at least %d characters and no spaces", i+1, minTokenLength)
		}
		a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
	}
	switch {
	case len(a.key) == 0:
		a.key = make([]byte, minSessionKey)
		_, _ = rand.Read(a.key)
	case len(a.key) < minSessionKey:
		return nil, fmt.Errorf("web: the session key has %d bytes; it needs at least %d", len(a.key), minSessionKey)
	}
	if a.lifetime <= 0 {
		a.lifetime = defaultSessionLifetime
	}
	return a, nil
}

// checkUserName refuses names that could not be typed or logged safely.
func checkUserName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return r == ':' || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return fmt.Errorf("web: user name %q: want 1 to 64 printable characters without spaces or \":\"", name)
	}
	return nil
}

// identify returns who sent r: the holder of a bearer token (RFC 6750
// §2.1) or of a session cookie. It returns nil, nil when r carries
// neither, errBadToken for a wrong bearer token, and another error when
// the revoked sessions could not be read. Other authorization schemes are
// left to whatever sits in front of the dashboard, such as a proxy asking
// for Basic authentication.
func (a *authenticator) identify(r *http.Request) (*identity, error) {
	if scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		if a.tokenIndex(strings.TrimSpace(token)) < 0 {
			return nil, errBadToken
		}
		return &identity{Name: "token"}, nil
	}
	c, err := r.Cookie(sessionCookie.name(r))
	if err != nil {
		return nil, nil
	}
	s, err := a.openSession(r.Context(), c.Value)
	if s == nil || err != nil {
		return nil, err
	}
	return &identity{Name: s.userName(), Session: s, CSRF: a.sign("csrf", s.nonce)}, nil
}

// tokenIndex returns the index of token among the configured tokens, or
// -1. Every token is compared, in constant time.
func (a *authenticator) tokenIndex(token string) int {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t[:]) == 1 {
			found = i
		}
	}
	return found
}

// checkPassword reports whether password is user's. An unknown user costs
// as much time as a known one. It waits for a free slot, and fails if ctx
// ends first, or with errBusy if too many checks wait already.
func (a *authenticator) checkPassword(ctx context.Context, user, password string) (bool, error) {
	hash, known := a.users[user]
	if !known {
		if a.dummy == nil {
			return false, nil
		}
		hash = a.dummy
	}
	if err := a.takeSlot(ctx); err != nil {
		return false, err
	}
	defer func() { <-a.slots }()
	return a.compare(hash, []byte(password)) == nil && known, nil
}

// takeSlot waits for a slot to check a password in.
func (a *authenticator) takeSlot(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		return nil
	default:
	}
	if a.waits.Add(1) > a.maxWaits {
		a.waits.Add(-1)
		return errBusy
	}
	defer a.waits.Add(-1)
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to check a password: %w", context.Cause(ctx))
	}
}
