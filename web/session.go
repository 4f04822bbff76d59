package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// session is a browser's login, kept in a cookie signed by the dashboard:
//
//	base64url(subject) "." expiry "." nonce "." base64url(HMAC)
//
// The HMAC covers the first three parts and the credential of the
// subject (the user's password hash, the token's digest), so that a
// session ends when its credential changes or goes.
type session struct {
	// subject is the user name, or "token:" and the fingerprint of the
	// token used.
	subject string
	expires time.Time
	// nonce tells sessions apart: logging out revokes it, and the CSRF
	// token of the session's forms is derived from it.
	nonce string
}

const tokenSubject = "token:"

// userName is the name the dashboard shows for the session's holder.
func (s *session) userName() string {
	if strings.HasPrefix(s.subject, tokenSubject) {
		return "token"
	}
	return s.subject
}

// cookieKind names a cookie of the dashboard.
type cookieKind string

const (
	// sessionCookie holds the session.
	sessionCookie cookieKind = "mtasts_session"
	// loginCookie holds the nonce of a login form, whose token is
	// derived from it: a form posted from elsewhere has no such cookie.
	loginCookie cookieKind = "mtasts_login"
)

// name is the cookie's name for requests like r: over TLS it has the
// __Host- prefix, which makes browsers require Secure and Path=/ and
// refuse it from other hosts.
func (k cookieKind) name(r *http.Request) string {
	if r.TLS != nil {
		return "__Host-" + string(k)
	}
	return string(k)
}

// set sets the cookie to value until expires, as the server's clock reads
// now; an empty value deletes it. The lifetime goes out as Max-Age, which
// browsers count on their own clocks (RFC 6265 §5.2.2), so a client whose
// clock is off keeps the cookie as long as the server means; Expires is
// there for clients without Max-Age.
func (k cookieKind) set(w http.ResponseWriter, r *http.Request, base, value string, now, expires time.Time) {
	c := &http.Cookie{Name: k.name(r), Value: value, Path: base, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if r.TLS != nil {
		c.Secure, c.Path = true, "/"
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = max(1, int(expires.Sub(now).Round(time.Second)/time.Second))
	}
	http.SetCookie(w, c)
}

// sign returns the MAC of the parts, for purpose, in base64url.
func (a *authenticator) sign(purpose string, parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validSignature reports whether mac is sign(purpose, parts...).
func (a *authenticator) validSignature(mac, purpose string, parts ...string) bool {
	return hmac.Equal([]byte(mac), []byte(a.sign(purpose, parts...)))
}

// credential returns what a session of subject is bound to, or false if
// the subject no longer exists.
func (a *authenticator) credential(subject string) (string, bool) {
	if fp, ok := strings.CutPrefix(subject, tokenSubject); ok {
		for _, t := range a.tokens {
			if a.tokenFingerprint(t) == fp {
				return string(t[:]), true
			}
		}
		return "", false
	}
	hash, ok := a.users[subject]
	return string(hash), ok
}

// tokenFingerprint names a token in session cookies without revealing
// anything about it.
func (a *authenticator) tokenFingerprint(digest [sha256.Size]byte) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("token-id"))
	m.Write(digest[:])
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// newSession starts a session for subject and returns it with its cookie
// value.
func (a *authenticator) newSession(subject string) (*session, string) {
	s := &session{subject: subject, expires: a.now().Add(a.lifetime).Truncate(time.Second), nonce: rand.Text()}
	cred, _ := a.credential(subject)
	head := base64.RawURLEncoding.EncodeToString([]byte(s.subject)) + "." + strconv.FormatInt(s.expires.Unix(), 10) + "." + s.nonce
	return s, head + "." + a.sign("session", head, cred)
}

// openSession returns the session of a cookie value, or nil if it is not
// a valid, current and unrevoked session. It fails only when the revoked
// sessions could not be read.
func (a *authenticator) openSession(ctx context.Context, value string) (*session, error) {
	s := a.parseSession(value)
	if s == nil {
		return nil, nil
	}
	revoked, err := a.revoked.SessionRevoked(ctx, a.revocationID(s))
	if err != nil {
		return nil, fmt.Errorf("web: checking whether a session was signed out: %w", err)
	}
	if revoked {
		return nil, nil
	}
	return s, nil
}

// parseSession returns the session of a cookie value, or nil if it is
// not a valid and current session.
func (a *authenticator) parseSession(value string) *session {
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return nil
	}
	head, mac := value[:i], value[i+1:]
	parts := strings.Split(head, ".")
	if len(parts) != 3 {
		return nil
	}
	subject, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil
	}
	cred, ok := a.credential(string(subject))
	if !ok || !a.validSignature(mac, "session", head, cred) {
		return nil
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil
	}
	s := &session{subject: string(subject), expires: time.Unix(exp, 0), nonce: parts[2]}
	now := a.now()
	// A session from a longer lifetime configured before ends early.
	if !now.Before(s.expires) || s.expires.After(now.Add(a.lifetime)) {
		return nil
	}
	return s
}

// revocations keep the sessions signed out before their time. The report
// store keeps them, so that a sign-out holds after a restart and in every
// process that serves the dashboard over the same store and session key.
type revocations interface {
	// RevokeSession records that the session named id ended; it need
	// not be kept after expires.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked reports whether RevokeSession recorded id.
	SessionRevoked(ctx context.Context, id string) (bool, error)
}

// revocationID names s among the revoked sessions: derived from its
// nonce with the session key, so that the records do not reveal the
// nonce, from which the session's CSRF token is derived.
func (a *authenticator) revocationID(s *session) string {
	return a.sign("revoked", s.nonce)
}

// revoke ends s before its time.
func (a *authenticator) revoke(ctx context.Context, s *session) error {
	if err := a.revoked.RevokeSession(ctx, a.revocationID(s), s.expires); err != nil {
		return fmt.Errorf("web: recording a sign-out: %w", err)
	}
	return nil
}
