package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// maxFormBytes bounds the body of the login and logout forms.
const maxFormBytes = 16 << 10

// busyRetrySeconds is the Retry-After of a login not checked because
// too many wait for their check.
const busyRetrySeconds = 5

// loginFormLifetime is how long a login form may be posted after it was
// shown.
const loginFormLifetime = time.Hour

// loginView is the data of the login page.
type loginView struct {
	// Next is the page to go on to after signing in.
	Next string
	User string
	// Error says why the last attempt failed; Notice says something
	// else, such as that the user signed out.
	Error, Notice string
	// CSRF is the form's token.
	CSRF string
	// Users and Tokens say which credentials the form takes.
	Users, Tokens bool
}

// showLogin answers with the login form.
func (d *dashboard) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	nonce := ""
	if c, err := r.Cookie(loginCookie.name(r)); err == nil && len(c.Value) == len(rand.Text()) {
		nonce = c.Value
	} else {
		nonce = rand.Text()
	}
	now := d.now()
	loginCookie.set(w, r, d.base, nonce, now, now.Add(loginFormLifetime))
	v.CSRF = d.auth.sign("login", nonce)
	v.Next = d.safeNext(v.Next)
	v.Users, v.Tokens = len(d.auth.users) > 0, len(d.auth.tokens) > 0
	d.render(w, r, status, "login", "Sign in", v)
}

// login answers GET with the login form and checks a POSTed one.
func (d *dashboard) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		d.showLogin(w, r, http.StatusOK, loginView{Next: r.FormValue("next")})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !d.postedHere(w, r) {
		return
	}
	v := loginView{Next: r.PostFormValue("next"), User: strings.TrimSpace(r.PostFormValue("user"))}
	c, err := r.Cookie(loginCookie.name(r))
	if err != nil || !d.auth.validSignature(r.PostFormValue("csrf"), "login", c.Value) {
		v.Error = "The login form had expired. Please sign in again."
		d.showLogin(w, r, http.StatusForbidden, v)
		return
	}
	// The attempt counts before it is checked: see loginLimiter.
	place, wait := d.auth.limits.reserve(r, d.auth.limitKey(v.User))
	if place == nil {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		v.Error = "Too many failed logins from your address or for this user. Try again in " + minutes(wait) + "."
		d.showLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	subject, ok, err := d.checkLogin(r.Context(), v.User, r.PostFormValue("password"))
	if err != nil {
		// Not checked: the server is busy, or the client went away
		// while waiting its turn.
		place.release()
		d.log.Info("dashboard: login not checked", "user", v.User, "remote", r.RemoteAddr, "error", err)
		if errors.Is(err, errBusy) {
			w.Header().Set("Retry-After", strconv.Itoa(busyRetrySeconds))
			v.Error = "The server is busy checking other logins. Try again in a moment."
			d.showLogin(w, r, http.StatusServiceUnavailable, v)
		}
		return
	}
	if !ok {
		d.log.Warn("dashboard: login failed", "user", v.User, "remote", r.RemoteAddr)
		if place.last {
			d.log.Warn("dashboard: login limit reached: further attempts are refused for a while", "user", v.User, "remote", r.RemoteAddr)
		}
		v.Error = "Wrong user name or password."
		if v.User == "" {
			v.Error = "Wrong access token."
		}
		d.showLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	place.release()
	s, value := d.auth.newSession(subject)
	sessionCookie.set(w, r, d.base, value, d.now(), s.expires)
	loginCookie.set(w, r, d.base, "", time.Time{}, time.Time{})
	d.log.Info("dashboard: signed in", "user", s.userName(), "remote", r.RemoteAddr)
	next := d.safeNext(v.Next)
	// No redirect (RFC 8461 §3.3 policy hosts refuse them): the page
	// refreshes itself to the next one.
	d.renderPage(w, r, http.StatusOK, "message", page{Title: "Signed in", Refresh: next,
		Data: messageView{Message: "You are signed in as " + s.userName() + ".", Link: next}})
}

// checkLogin checks a user name and password, or with no user name an
// access token, and returns the subject of the session to open. It fails
// only if ctx ends before the password could be checked.
func (d *dashboard) checkLogin(ctx context.Context, user, password string) (string, bool, error) {
	if user != "" {
		ok, err := d.auth.checkPassword(ctx, user, password)
		return user, ok, err
	}
	i := d.auth.tokenIndex(password)
	if i < 0 {
		return "", false, nil
	}
	return tokenSubject + d.auth.tokenFingerprint(d.auth.tokens[i]), true, nil
}

// minutes says how long d is, in whole minutes rounded up, for people.
func minutes(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return strconv.Itoa(m) + " minutes"
}

// logout ends the session of the request.
func (d *dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if !d.postedHere(w, r) {
		return
	}
	id := identityOf(r)
	if id.Session == nil {
		d.fail(w, r, http.StatusBadRequest, "Only a browser session can sign out; a token stays valid until it is removed from the configuration.")
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(id.CSRF)) {
		d.fail(w, r, http.StatusForbidden, "The sign-out form did not come from this session.")
		return
	}
	if err := d.auth.revoke(r.Context(), id.Session); err != nil {
		d.log.Error("dashboard: signing out", "user", id.Name, "remote", r.RemoteAddr, "error", err)
		d.fail(w, r, http.StatusServiceUnavailable, "The sign-out could not be recorded, so the session still works; try again. The server log says why.")
		return
	}
	sessionCookie.set(w, r, d.base, "", time.Time{}, time.Time{})
	d.log.Info("dashboard: signed out", "user", id.Name, "remote", r.RemoteAddr)
	d.showLogin(w, r, http.StatusOK, loginView{Notice: "You have signed out."})
}

// postedHere reads the form of a POST that a page of this site sent, and
// otherwise answers with an error and returns false.
func (d *dashboard) postedHere(w http.ResponseWriter, r *http.Request) bool {
	if err := d.origin.Check(r); err != nil {
		d.fail(w, r, http.StatusForbidden, "The form was sent from another site.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		d.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// safeNext returns next if it is a page of the dashboard, else the
// overview: a login form must not lead anywhere else.
func (d *dashboard) safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") ||
		!strings.HasPrefix(u.Path, d.base) || !isCleanPath(u.Path) || u.Path == d.base+"login" || u.Path == d.base+"logout" {
		return d.base
	}
	u.Fragment = ""
	return u.RequestURI()
}

// isCleanPath reports whether p is a path that cleaning leaves alone,
// but for a trailing slash.
func isCleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}
