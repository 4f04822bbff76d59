package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// Options configure New.
type Options struct {
	// Auth says who may see the dashboard; it must name at least one
	// user or token.
	Auth Auth
	// BasePath is the path the dashboard is mounted at, beginning and
	// ending with "/", such as "/dashboard/"; "" means "/". Every page
	// and link lies below it.
	BasePath string
	// Logger receives logins, logouts and errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock for periods and sessions; nil means time.Now.
	Now func() time.Time
}

// queryTimeout bounds the store queries of one page.
const queryTimeout = 30 * time.Second

// contentSecurityPolicy allows the embedded style sheet, forms to the
// dashboard itself, and nothing else: no script, no frame, no other site.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// dashboard is the http.Handler returned by New.
type dashboard struct {
	store *reportstore.Store
	base  string
	log   *slog.Logger
	now   func() time.Time
	auth  *authenticator
	views *views
	cache *resultCache
	mux   *http.ServeMux
	// origin refuses cross-site POSTs (Sec-Fetch-Site, Origin).
	origin *http.CrossOriginProtection
}

// New returns the dashboard over store. It fails when the options are
// unusable: no user and no token, a password hash that is not bcrypt, a
// base path that is not a path.
func New(store *reportstore.Store, o Options) (http.Handler, error) {
	if store == nil {
		return nil, errors.New("web: no report store")
	}
	base := o.BasePath
	if base == "" {
		base = "/"
	}
	if !strings.HasPrefix(base, "/") || !strings.HasSuffix(base, "/") || strings.ContainsAny(base, "{}?#% ") {
		return nil, fmt.Errorf("web: base path %q must begin and end with \"/\" and hold no pattern or query characters", base)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	auth, err := newAuthenticator(o.Auth, o.Now, store)
	if err != nil {
		return nil, err
	}
	v, err := newViews(base)
	if err != nil {
		return nil, err
	}
	d := &dashboard{store: store, base: base, log: o.Logger, now: o.Now, auth: auth, views: v,
		cache: newResultCache(o.Now), mux: http.NewServeMux(), origin: http.NewCrossOriginProtection()}
	for pattern, h := range map[string]http.HandlerFunc{
		"GET {$}":                      d.overview,
		"GET domains/{domain}":         d.domain,
		"GET status":                   d.statusOverview,
		"GET status/{domain}":          d.domainStatus,
		"GET reports":                  d.reports,
		"GET reports/{id}":             d.report,
		"GET reports/{id}/raw":         d.reportRaw,
		"GET reports/{id}/download":    d.reportDownload,
		"POST reports/{id}/delete":     d.deleteReport,
		"GET quarantine":               d.quarantine,
		"GET quarantine/{id}":          d.quarantined,
		"GET quarantine/{id}/download": d.quarantinedDownload,
		"POST logout":                  d.logout,
	} {
		method, path, _ := strings.Cut(pattern, " ")
		d.mux.HandleFunc(method+" "+base+path, h)
	}
	d.mux.HandleFunc(base, d.notFound)
	return d, nil
}

// ServeHTTP implements http.Handler: public assets and the login form,
// then, for an authenticated request, the pages.
func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	rest, ok := strings.CutPrefix(r.URL.Path, d.base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasPrefix(rest, "static/"):
		d.views.serveStatic(w, r, strings.TrimPrefix(rest, "static/"))
		return
	case rest == "login":
		d.login(w, r)
		return
	}
	id, err := d.auth.identify(r)
	if err != nil && !errors.Is(err, errBadToken) {
		d.storeFailed(w, r, err)
		return
	}
	if err != nil {
		// A script sent a wrong token: say so, without a form.
		h.Set("WWW-Authenticate", `Bearer realm="mtasts", error="invalid_token"`)
		http.Error(w, "401 unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if id == nil {
		h.Set("WWW-Authenticate", `Bearer realm="mtasts"`)
		d.showLogin(w, r, http.StatusUnauthorized, loginView{Next: r.URL.RequestURI()})
		return
	}
	d.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
}

// identityKey keys the *identity of an authenticated request.
type identityKey struct{}

// identityOf returns who made an authenticated request.
func identityOf(r *http.Request) *identity {
	id, _ := r.Context().Value(identityKey{}).(*identity)
	return id
}

// notFound answers paths below the base that name no page.
func (d *dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	d.fail(w, r, http.StatusNotFound, "There is no such page.")
}

// fail shows an error page with status and a message for people.
func (d *dashboard) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.render(w, r, status, "message", http.StatusText(status), messageView{Message: msg})
}

// storeFailed logs an error of the store and shows a page that says the
// data could not be read.
func (d *dashboard) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, reportstore.ErrNotFound) {
		d.fail(w, r, http.StatusNotFound, "There is no such report or quarantine entry.")
		return
	}
	d.log.Error("dashboard: reading the report store", "path", r.URL.Path, "error", err)
	d.fail(w, r, http.StatusInternalServerError, "The report store could not be read; the server log says why.")
}

// messageView is the data of the message page.
type messageView struct {
	Message string
	// Link, if set, is a page to go on to.
	Link string
}
