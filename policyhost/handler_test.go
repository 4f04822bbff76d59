package policyhost

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mtasts/mtasts/sts"
)

const policyA = "version: STSv1\r\nmode: enforce\r\nmx: mx1.a.test\r\nmax_age: 604800\r\n"
const policyB = "version: STSv1\r\nmode: testing\r\nmx: *.b.test\r\nmax_age: 86400\r\n"

func testHandler() *Handler {
	h := NewHandler()
	h.SetPolicies([]Policy{
		{Domain: "a.test", ID: "1", Text: []byte(policyA)},
		{Domain: "b.test", ID: "2", Text: []byte(policyB)},
	})
	return h
}

// do sends one request to h and returns the response and its body.
func do(t *testing.T, h http.Handler, method, host, path string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, "https://"+host+path, nil)
	req.Host = host
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// RFC 8461 §3.3: status 200, text/plain, the exact policy, no caching.
func TestHandlerServesPolicy(t *testing.T) {
	h := testHandler()
	for _, tc := range []struct{ host, want string }{
		{"mta-sts.a.test", policyA},
		{"mta-sts.b.test", policyB},
		{"MTA-STS.A.Test", policyA},
		{"mta-sts.a.test.", policyA},
		{"mta-sts.a.test:443", policyA},
	} {
		resp, body := do(t, h, http.MethodGet, tc.host, sts.PolicyPath)
		if resp.StatusCode != http.StatusOK || body != tc.want {
			t.Errorf("%s: %d %q", tc.host, resp.StatusCode, body)
			continue
		}
		for k, v := range map[string]string{
			"Content-Type":   "text/plain; charset=utf-8",
			"Cache-Control":  "no-store",
			"Content-Length": strconv.Itoa(len(tc.want)),
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.host, k, got, v)
			}
		}
		if _, err := sts.ParsePolicy([]byte(body)); err != nil {
			t.Errorf("%s: served policy does not parse: %v", tc.host, err)
		}
	}
}

func TestHandlerHEAD(t *testing.T) {
	resp, body := do(t, testHandler(), http.MethodHead, "mta-sts.a.test", sts.PolicyPath)
	if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Content-Length") != strconv.Itoa(len(policyA)) {
		t.Errorf("HEAD: %d, body %q, length %q", resp.StatusCode, body, resp.Header.Get("Content-Length"))
	}
}

func TestHandlerRefuses(t *testing.T) {
	h := testHandler()
	for _, tc := range []struct {
		method, host, path string
		status             int
	}{
		{http.MethodGet, "mta-sts.c.test", sts.PolicyPath, http.StatusMisdirectedRequest},
		{http.MethodGet, "a.test", sts.PolicyPath, http.StatusMisdirectedRequest},
		{http.MethodGet, "", sts.PolicyPath, http.StatusMisdirectedRequest},
		{http.MethodGet, "127.0.0.1", sts.PolicyPath, http.StatusMisdirectedRequest},
		{http.MethodGet, "mta-sts.a.test", "/", http.StatusNotFound},
		{http.MethodGet, "mta-sts.a.test", sts.PolicyPath + "/", http.StatusNotFound},
		{http.MethodGet, "mta-sts.a.test", "/.well-known/mta-sts.TXT", http.StatusNotFound},
		{http.MethodGet, "mta-sts.a.test", "/x/../.well-known/mta-sts.txt", http.StatusNotFound},
		{http.MethodPost, "mta-sts.a.test", sts.PolicyPath, http.StatusMethodNotAllowed},
		{http.MethodDelete, "mta-sts.a.test", sts.PolicyPath, http.StatusMethodNotAllowed},
	} {
		resp, body := do(t, h, tc.method, tc.host, tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s%s: status %d, want %d", tc.method, tc.host, tc.path, resp.StatusCode, tc.status)
		}
		if strings.Contains(body, "STSv1") {
			t.Errorf("%s %s%s: a policy was served: %q", tc.method, tc.host, tc.path, body)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s %s%s: redirect to %s", tc.method, tc.host, tc.path, loc)
		}
	}
}

// A connection opened with the SNI of one domain must not be used for
// another (RFC 9110 §15.5.20).
func TestHandlerSNIMismatch(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://mta-sts.b.test"+sts.PolicyPath, nil)
	req.TLS = &tls.ConnectionState{ServerName: "mta-sts.a.test"}
	rec := httptest.NewRecorder()
	testHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("status %d, want 421", rec.Code)
	}
}

func TestHandlerMount(t *testing.T) {
	h := testHandler()
	h.Mount("POST /tlsrpt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "report accepted")
	}))
	h.Mount("/dash/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dash/old" {
			http.Redirect(w, r, "/dash/new", http.StatusFound)
			return
		}
		io.WriteString(w, "dashboard")
	}))
	h.Mount(sts.PolicyPath+"x", http.NotFoundHandler())
	for _, tc := range []struct {
		method, host, path string
		status             int
		body               string
	}{
		{http.MethodPost, "mta-sts.a.test", "/tlsrpt", 200, "report accepted"},
		{http.MethodGet, "mta-sts.b.test", "/dash/", 200, "dashboard"},
		{http.MethodGet, "mta-sts.a.test", sts.PolicyPath, 200, policyA},
		// ServeMux would redirect these; the policy host never does.
		{http.MethodGet, "mta-sts.a.test", "/dash", 404, ""},
		{http.MethodGet, "mta-sts.a.test", "/dash/old", 404, ""},
		{http.MethodGet, "mta-sts.a.test", "//dash/", 404, ""},
		{http.MethodGet, "mta-sts.a.test", "/dash/./x", 404, ""},
		{http.MethodGet, "mta-sts.a.test", "/other", 404, ""},
		{http.MethodPost, "mta-sts.c.test", "/tlsrpt", 421, ""},
	} {
		resp, body := do(t, h, tc.method, tc.host, tc.path)
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) {
			t.Errorf("%s %s%s: %d %q, want %d %q", tc.method, tc.host, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s %s%s: redirect to %s", tc.method, tc.host, tc.path, loc)
		}
	}
}

func TestHandlerSetPoliciesSwaps(t *testing.T) {
	h := testHandler()
	h.SetPolicies([]Policy{{Domain: "c.test", ID: "3", Text: []byte(policyB)}})
	if resp, _ := do(t, h, http.MethodGet, "mta-sts.a.test", sts.PolicyPath); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("removed domain: status %d", resp.StatusCode)
	}
	if resp, body := do(t, h, http.MethodGet, "mta-sts.c.test", sts.PolicyPath); resp.StatusCode != 200 || body != policyB {
		t.Errorf("added domain: %d %q", resp.StatusCode, body)
	}
	if ps := h.Policies(); len(ps) != 1 || ps[0].ID != "3" {
		t.Errorf("Policies() = %v", ps)
	}
}
