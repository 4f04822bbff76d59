package web

import (
	"bytes"
	"context"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
)

// findChromium returns the path of a Chromium or Chrome binary. When there
// is none, it skips the test, or fails it when MTASTS_REQUIRE_SERVICES=1.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found; install it with `apt-get install -y chromium` to run this test"
	testservers.Unavailable(t, msg)
	return ""
}

// startBrowser starts a headless Chromium for the test and returns its
// context.
func startBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(findChromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	return bctx
}

// serve runs h on a loopback port until the test ends and returns its
// URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + l.Addr().String()
}

// consoleErrors collects the errors that pages log, but for the failed
// loads of pages that answer 401 on purpose.
type consoleErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleErrors) listen(ev any) {
	e, ok := ev.(*log.EventEntryAdded)
	if !ok || e.Entry.Level != log.EntryLevelError || strings.Contains(e.Entry.Text, "status of 401") {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, string(e.Entry.Source)+": "+e.Entry.Text)
}

func (c *consoleErrors) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// screenshot saves a full-page PNG of the browser's page into the test's
// artifact directory (kept with go test -artifacts -outputdir DIR).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width < 1000 || cfg.Height < 500 {
		t.Errorf("screenshot %s: %dx%d, %v", name, cfg.Width, cfg.Height, err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// run runs an action that returns a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestDashboardInChromium signs in with a real headless Chromium, opens a
// domain and checks that the charts and the failure breakdown are there
// and styled, then signs out.
func TestDashboardInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = startBrowser(t, ctx)
	base := serve(t, newHandler(t, filledStore(t, 3000), Options{})) + testBase
	var errs consoleErrors
	if err := chromedp.Listen(ctx, errs.listen); err != nil {
		t.Fatal(err)
	}

	// A page asked for without a session shows the login form.
	domainURL := base + "domains/example.com?days=30"
	if err := chromedp.Do(ctx, chromedp.Navigate(domainURL), chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
		t.Fatalf("login form: %v", err)
	}
	screenshot(t, ctx, "login.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("user"), testUser),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	); err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	// The user name stays filled in; the password does not.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("domain-name")),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
	if loc := run(t, ctx, "location", chromedp.Location()); loc != domainURL {
		t.Errorf("after login the browser is at %s, want %s", loc, domainURL)
	}
	if name := run(t, ctx, "domain name", chromedp.Text(chromedp.ID("domain-name"))); name != "example.com" {
		t.Errorf("domain page heading %q", name)
	}

	// The chart is drawn, scaled to the page and coloured by the style
	// sheet: the CSP let the style sheet in.
	bars := run(t, ctx, "bars", chromedp.Evaluate[int](`document.querySelectorAll("#sessions-chart svg rect.bar-failed").length`))
	okBars := run(t, ctx, "bars", chromedp.Evaluate[int](`document.querySelectorAll("#sessions-chart svg rect.bar-ok").length`))
	if bars == 0 || okBars < 20 {
		t.Errorf("sessions chart has %d failed and %d successful bars", bars, okBars)
	}
	width := run(t, ctx, "chart width", chromedp.Evaluate[float64](`document.querySelector("#sessions-chart svg").getBoundingClientRect().width`))
	fill := run(t, ctx, "bar colour", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("rect.bar-failed")).fill`))
	if width < 800 || fill != "rgb(201, 55, 44)" {
		t.Errorf("chart is %.0f px wide with failed bars in %q: the style sheet did not apply", width, fill)
	}

	// The failures are explained and broken down.
	results := run(t, ctx, "result types", chromedp.Text(chromedp.ID("result-types")))
	for _, want := range []string{"certificate-expired", "The certificate has expired", "How to fix it."} {
		if !strings.Contains(results, want) {
			t.Errorf("result types lack %q:\n%s", want, results)
		}
	}
	breakdowns := run(t, ctx, "breakdowns", chromedp.Text(chromedp.ID("breakdowns")))
	for _, want := range []string{"Sending organisation", "Google Inc.", "MX host", "mx2.example.com", "Receiving IP"} {
		if !strings.Contains(breakdowns, want) {
			t.Errorf("breakdowns lack %q:\n%s", want, breakdowns)
		}
	}
	screenshot(t, ctx, "domain.png")

	// A bar of the chart leads to the reports of its day. (Click waits
	// for an offsetWidth, which SVG elements lack: click by position.)
	at := run(t, ctx, "bar position", chromedp.Evaluate[[]float64](`(() => {
		const bar = document.querySelector("#sessions-chart svg a:last-of-type rect.bar-ok");
		bar.scrollIntoView({block: "center"});
		const box = bar.getBoundingClientRect();
		return [box.x + box.width / 2, box.y + box.height / 2];
	})()`))
	if err := chromedp.Do(ctx,
		chromedp.MouseClickXY(at[0], at[1]),
		chromedp.WaitVisible(chromedp.ID("reports")),
	); err != nil {
		t.Fatalf("following a bar: %v", err)
	}
	rows := run(t, ctx, "report rows", chromedp.Evaluate[int](`document.querySelectorAll("#reports tbody tr").length`))
	if loc := run(t, ctx, "location", chromedp.Location()); rows == 0 || !strings.Contains(loc, "reports?domain=example.com&since=") {
		t.Errorf("bar led to %s with %d reports", loc, rows)
	}

	screenshot(t, ctx, "reports.png")

	// A report of the list, and its raw bytes.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#reports tbody tr td.id a`)),
		chromedp.WaitVisible(chromedp.CSS(`section.policy`)),
	); err != nil {
		t.Fatalf("opening a report: %v", err)
	}
	screenshot(t, ctx, "report.png")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href$="/raw"]`)),
		chromedp.WaitVisible(chromedp.ID("raw")),
	); err != nil {
		t.Fatalf("opening the raw report: %v", err)
	}
	if raw := run(t, ctx, "raw report", chromedp.Text(chromedp.ID("raw"))); !strings.Contains(raw, `"organization-name": `) {
		t.Errorf("raw report:\n%s", raw)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("domains"))); err != nil {
		t.Fatalf("overview: %v", err)
	}
	sparks := run(t, ctx, "sparklines", chromedp.Evaluate[int](`document.querySelectorAll("#domains svg.spark polyline").length`))
	if sparks < 10 {
		t.Errorf("overview has %d sparklines", sparks)
	}
	screenshot(t, ctx, "overview.png")

	// Signing out ends the session.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.who button`)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.Navigate(domainURL),
		chromedp.WaitVisible(chromedp.ID("password")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if errs := errs.get(); len(errs) > 0 {
		t.Errorf("the browser logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
