package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/internal/testenv/testservers"
	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
	"github.com/mtasts/mtasts/web/webtest"
)

// wantContains fails the test for each of wants that body lacks.
func wantContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestPages(t *testing.T) {
	s := filledStore(t, 2000)
	qid := addQuarantined(t, s, []byte("{\"organization-name\": \"Broken\x00"))
	srv := newServer(t, s, Options{})
	c := newClient(t, srv)
	c.mustLogin()

	r := c.get(testBase)
	wantStatus(t, "overview", r, http.StatusOK)
	wantContains(t, "overview", r.body, `href="/dashboard/domains/example.com?days=30">example.com</a>`, "MTA-STS enforce", "MTA-STS testing",
		`<svg class="spark`, "What fails most", "certificate-expired", "1 input(s) could not be read as reports")
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("overview headers: %v", r.Header)
	}
	if strings.Contains(r.body, "<script") {
		t.Error("the overview has a script")
	}

	r = c.get(testBase + "domains/EXAMPLE.com?days=90")
	wantStatus(t, "domain page", r, http.StatusOK)
	wantContains(t, "domain page", r.body, `<h1 id="domain-name">example.com</h1>`, `<svg class="chart"`, `class="bar-failed"`, `class="bar-ok"`,
		"The certificate has expired", "How to fix it.", "mx2.example.com", "Google Inc.", "Receiving IP", "192.0.2.",
		`href="/dashboard/reports?domain=example.com&amp;since=`, "X509_V_ERR_CERT_HAS_EXPIRED", "Daily figures")
	r = c.get(testBase + "domains/nothing.example")
	wantStatus(t, "domain without reports", r, http.StatusOK)
	wantContains(t, "domain without reports", r.body, "No reports for nothing.example in the last 30 days.")

	r = c.get(testBase + "reports?domain=example.com&failures=1")
	wantStatus(t, "reports", r, http.StatusOK)
	if n := strings.Count(r.body, `<td class="id">`); n == 0 || n > perPage {
		t.Errorf("reports list has %d rows", n)
	}
	wantContains(t, "reports", r.body, `name="failures" type="checkbox" value="1" checked`)
	r = c.get(testBase + "reports")
	wantContains(t, "report list", r.body, "2,000 report(s).", "Page 1 of 40", `href="/dashboard/reports?page=2" rel="next"`)
	r = c.get(testBase + "reports?page=40")
	wantContains(t, "last page", r.body, "Page 40 of 40", `href="/dashboard/reports?page=39" rel="prev"`)
	wantStatus(t, "bad date", c.get(testBase+"reports?since=yesterday"), http.StatusBadRequest)

	r = c.get(testBase + "reports/1")
	wantStatus(t, "report", r, http.StatusOK)
	wantContains(t, "report", r.body, "Report from Google Inc.", "smtp-tls-reporting@google.com", "version: STSv1", "application/tlsrpt&#43;json")
	r = c.get(testBase + "reports/1/raw")
	wantStatus(t, "raw report", r, http.StatusOK)
	wantContains(t, "raw report", r.body, "  &#34;organization-name&#34;: &#34;Google Inc.&#34;", "JSON shown indented")
	r = c.get(testBase + "reports/1/download")
	wantStatus(t, "download", r, http.StatusOK)
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename=report-1.json` || r.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(r.body, `{"organization-name":"Google Inc."`) {
		t.Errorf("download: %v\n%.200s", r.Header, r.body)
	}

	r = c.get(testBase + "quarantine")
	wantStatus(t, "quarantine", r, http.StatusOK)
	wantContains(t, "quarantine", r.body, "1 entry.", "tlsrpt report: is not valid JSON", "198.51.100.9")
	r = c.get(testBase + "quarantine/" + itoa(qid))
	wantStatus(t, "quarantine entry", r, http.StatusOK)
	wantContains(t, "quarantine entry", r.body, `id="quarantine-reason">tlsrpt report: is not valid JSON<`, "Broken\uFFFD")
	if r := c.get(testBase + "quarantine/" + itoa(qid) + "/download"); r.body != "{\"organization-name\": \"Broken\x00" {
		t.Errorf("quarantine download = %q", r.body)
	}

	for _, p := range []string{"reports/99999", "reports/abc", "quarantine/99999", "nothing", "reports/1/nothing"} {
		r := c.get(testBase + p)
		wantStatus(t, p, r, http.StatusNotFound)
		if !strings.Contains(r.body, "<main>") {
			t.Errorf("%s: not the dashboard's error page:\n%s", p, r.body)
		}
	}
	wantStatus(t, "POST to a page", c.post(testBase+"reports", url.Values{}), http.StatusNotFound)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hostileReport is a report whose every text tries to break out of its
// place in a page.
func hostileReport() *tlsrpt.Report {
	day := testNow.AddDate(0, 0, -1).Truncate(24 * time.Hour)
	return &tlsrpt.Report{
		OrganizationName: `<script>alert("org")</script> Evil & Co`,
		ReportID:         `"><img src=x onerror=alert(1)>`,
		ContactInfo:      `javascript:alert(2)`,
		DateRange:        tlsrpt.DateRange{Start: day, End: day.Add(24*time.Hour - time.Second)},
		Policies: []tlsrpt.PolicyResult{{
			Policy: tlsrpt.Policy{Type: tlsrpt.PolicySTS, Domain: `"><script>alert(9)</script>.example`,
				Strings: []string{"version: STSv1", "mode: <script>alert(3)</script>", "max_age: 86400"},
				MXHosts: []string{`</pre><script>alert(4)</script>`}},
			Summary: tlsrpt.Summary{Successful: 10, Failed: 7},
			FailureDetails: []tlsrpt.FailureDetail{
				{ResultType: `<svg onload=alert(5)>`, ReceivingMXHostname: `<b>mx</b>.evil.example`, FailedSessionCount: 3,
					FailureReasonCode: `<script>alert(6)</script>`, AdditionalInformation: `javascript:alert(7)`},
				{ResultType: tlsrpt.ResultCertificateExpired, ReceivingIP: netip.MustParseAddr("192.0.2.1"), FailedSessionCount: 4,
					AdditionalInformation: `https://evil.example/"><script>alert(8)</script>`},
			},
		}},
	}
}

func TestHostileReportIsEscaped(t *testing.T) {
	s := openStore(t)
	rep := hostileReport()
	raw, err := tlsrpt.Render(rep)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Add(context.Background(), &reportstore.Submission{Report: rep, Raw: raw, RawType: tlsrpt.MediaTypeJSON,
		Source: reportstore.SourceHTTPS, Origin: `<script>alert(10)</script>`})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, s, Options{})
	c := newClient(t, srv)
	c.mustLogin()
	domain := url.PathEscape(`"><script>alert(9)</script>.example`)
	id := itoa(res.ID)
	bad := regexp.MustCompile(`(?i)<script|<img|<svg onload|<b>mx|href="javascript:|href="https://evil\.example/"><`)
	for _, p := range []string{"", "domains/" + domain, "reports", "reports/" + id, "reports/" + id + "/raw", "reports?organization=" + url.QueryEscape(rep.OrganizationName)} {
		r := c.get(testBase + p)
		wantStatus(t, p, r, http.StatusOK)
		if m := bad.FindString(r.body); m != "" {
			t.Errorf("%s: hostile content %q not escaped:\n%s", p, m, r.body)
		}
	}
	r := c.get(testBase + "domains/" + domain)
	wantContains(t, "domain page", r.body, "&lt;script&gt;alert(9)&lt;/script&gt;.example", "&lt;svg onload=alert(5)&gt;", "A result type of the sender&#39;s own",
		"&lt;b&gt;mx&lt;/b&gt;.evil.example", "&lt;script&gt;alert(&#34;org&#34;)&lt;/script&gt; Evil &amp; Co", `class="badge mode-other">MTA-STS<`)
	r = c.get(testBase + "reports/" + id)
	wantContains(t, "report page", r.body, `rel="noreferrer noopener">https://evil.example/&#34;&gt;&lt;script&gt;alert(8)&lt;/script&gt;</a>`,
		"<td>javascript:alert(7)</td>", "&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;")
}

// TestMountedOnPolicyHost runs a login through the policy host handler of
// "mtasts serve", which turns any redirect into 404.
func TestMountedOnPolicyHost(t *testing.T) {
	dash := newHandler(t, filledStore(t, 100), Options{})
	ph := policyhost.NewHandler()
	ph.SetPolicies([]policyhost.Policy{{Domain: "example.com", ID: "1", Text: []byte("version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n")}})
	ph.Mount(testBase, dash)
	srv := httptest.NewServer(ph)
	defer srv.Close()
	c := newClient(t, srv)
	c.host = "mta-sts.example.com"
	wantStatus(t, "anonymous", c.get(testBase+"domains/example.com"), http.StatusUnauthorized)
	wantStatus(t, "login", c.login(testBase+"domains/example.com", testUser, testPassword), http.StatusOK)
	r := c.get(testBase + "domains/example.com")
	wantStatus(t, "domain page", r, http.StatusOK)
	wantContains(t, "domain page", r.body, `<svg class="chart"`)
	wantStatus(t, "style sheet", c.get(testBase+"static/style.css"), http.StatusOK)
	wantStatus(t, "policy", c.get("/.well-known/mta-sts.txt"), http.StatusOK)
}

// TestOnPostgres shows the pages over a PostgreSQL store.
func TestOnPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	ctx := context.Background()
	s, err := reportstore.Open(ctx, pg.NewDatabase(t), reportstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := webtest.Fill(ctx, s, webtest.Options{Reports: 500, End: testNow.AddDate(0, 0, -1)}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, newServer(t, s, Options{}))
	c.mustLogin()
	for p, want := range map[string]string{
		"":                             `>example.com</a>`,
		"domains/example.com?days=365": `class="bar-failed"`,
		"reports?failures=1":           `<td class="id">`,
		"reports/1":                    "Report from Google Inc.",
		"reports/1/raw":                "&#34;organization-name&#34;",
	} {
		r := c.get(testBase + p)
		wantStatus(t, p, r, http.StatusOK)
		wantContains(t, p, r.body, want)
	}
}
