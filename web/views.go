package web

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/tlsrpt"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// views holds the parsed templates and the embedded assets.
type views struct {
	base  string
	pages map[string]*template.Template
	// static maps a file name under static/ to the file.
	static map[string]staticFile
	// style is the URL of the style sheet, with its version, so that
	// browsers may keep it for long.
	style string
}

type staticFile struct {
	data        []byte
	contentType string
	etag        string
}

// page is what every page template gets: the page's own data in Data,
// and what the layout needs.
type page struct {
	Title string
	// Section is the part of the site the page belongs to, for the
	// navigation.
	Section string
	// Refresh, if set, is a page to go on to at once.
	Refresh string
	Data    any
	// Base, Style and User are set by renderPage.
	Base, Style string
	User        *identity
}

// sections maps pages to their part of the site.
var sections = map[string]string{
	"overview": "overview", "domain": "overview",
	"reports": "reports", "report": "reports", "raw": "reports",
	"quarantine": "quarantine",
	"status":     "status", "domainstatus": "status",
}

func newViews(base string) (*views, error) {
	v := &views{base: base, pages: map[string]*template.Template{}, static: map[string]staticFile{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		v.static[strings.TrimPrefix(p, "static/")] = staticFile{data: data,
			contentType: mime.TypeByExtension(path.Ext(p)), etag: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	v.style = base + "static/style.css?v=" + v.static["style.css"].etag
	layout, err := template.New("layout").Funcs(v.funcs()).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	for _, name := range names {
		short := strings.TrimSuffix(path.Base(name), ".html")
		if short == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, name)
		if err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		v.pages[short] = t
	}
	return v, nil
}

// funcs are the functions the templates call.
func (v *views) funcs() template.FuncMap {
	return template.FuncMap{
		"href":       v.href,
		"domainHref": v.domainHref,
		"statusHref": func(domain string) string { return v.href("status/" + url.PathEscape(domain)) },
		"reportHref": func(id int64) string { return v.href("reports/" + strconv.FormatInt(id, 10)) },
		"percent":    percent,
		"count":      formatCount,
		"trend":      trend,
		"explain":    explain,
		"richText":   richText,
		"byteSize":   byteSize,
		"time":       formatTime,
		"share":      share,
		"join":       strings.Join,
		"int64":      func(n int) int64 { return int64(n) },
		"sessions":   func(ok, failed int64) int64 { return tlsrpt.Summary{Successful: ok, Failed: failed}.Sessions() },
		"isWebURL":   isWebURL,
		"notGiven":   func(s string) string { return cmp.Or(s, "(not given)") },
	}
}

// href returns the URL of the dashboard path p with a query of the
// key-value pairs kv, leaving out empty values.
func (v *views) href(p string, kv ...any) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if val := fmt.Sprint(kv[i+1]); val != "" && val != "0" && val != "false" {
			q.Set(fmt.Sprint(kv[i]), val)
		}
	}
	u := v.base + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// domainHref is the URL of the page of a policy domain over a period.
func (v *views) domainHref(domain string, days int) string {
	return v.href("domains/"+url.PathEscape(domain), "days", days)
}

// isWebURL reports whether s is an http or https URL, which pages may
// link to.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// render shows the page name with data.
func (d *dashboard) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	d.renderPage(w, r, status, name, page{Title: title, Data: data})
}

// renderPage executes the page template name into a buffer, so that a
// failing template never sends half a page, then sends it with status.
func (d *dashboard) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Base, p.Style, p.User = d.base, d.views.style, identityOf(r)
	if p.Section == "" {
		p.Section = sections[name]
	}
	var buf bytes.Buffer
	if err := d.views.pages[name].ExecuteTemplate(&buf, "layout", &p); err != nil {
		d.log.Error("dashboard: rendering a page", "page", name, "error", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// serveStatic answers with an embedded asset. Its URL carries its
// version, so browsers may keep it for a year.
func (v *views) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := v.static[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+f.etag+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
