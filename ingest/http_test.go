package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

func post(t testing.TB, url, contentType string, body []byte, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// RFC 8460 §5.4: reports POSTed over HTTPS.
func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	in, store := newIngester(t, Config{MaxSize: 64 << 10, Metrics: NewMetrics(reg)})
	srv := httptest.NewServer(in.Handler(HandlerOptions{MaxBody: 16 << 10}))
	defer srv.Close()
	jsonReport := readFile(t, "reports/google.com!example.com!1795132800!1795219199!001.json")
	gzReport := readFile(t, "reports/microsoft.com!example.com!1795132800!1795219199!134090784000000000.json.gz")
	bomb := gzipBytes(bytes.Repeat([]byte(" "), 10<<20)) // 10 MiB of spaces in ~10 KiB

	for _, c := range []struct {
		name, ctype string
		body        []byte
		header      []string
		code        int
		msg         string
	}{
		{"gzip", tlsrpt.MediaTypeGzip, gzReport, nil, http.StatusCreated, "report stored as 1"},
		{"gzip again", tlsrpt.MediaTypeGzip, gzReport, nil, http.StatusOK, "report already stored as 1"},
		{"json", tlsrpt.MediaTypeJSON + "; charset=utf-8", jsonReport, nil, http.StatusCreated, "report stored as 2"},
		{"json gzipped by Content-Encoding", tlsrpt.MediaTypeJSON, gzipBytes(jsonReport), []string{"Content-Encoding", "gzip"}, http.StatusOK, "already stored as 2"},
		{"not json", tlsrpt.MediaTypeJSON, []byte("<html>"), nil, http.StatusBadRequest, "not a TLS report: tlsrpt report: is not valid JSON"},
		{"wrong type", "text/plain", jsonReport, nil, http.StatusUnsupportedMediaType, "Content-Type must be"},
		{"no type", "", jsonReport, nil, http.StatusUnsupportedMediaType, "Content-Type must be"},
		{"brotli", tlsrpt.MediaTypeJSON, jsonReport, []string{"Content-Encoding", "br"}, http.StatusUnsupportedMediaType, "Content-Encoding br"},
		{"too large", tlsrpt.MediaTypeJSON, bytes.Repeat([]byte(" "), 17<<10), nil, http.StatusRequestEntityTooLarge, "larger than 16384 bytes"},
		{"gzip bomb", tlsrpt.MediaTypeGzip, bomb, nil, http.StatusRequestEntityTooLarge, "report too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, msg := post(t, srv.URL+"/tlsrpt", c.ctype, c.body, c.header...)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("POST = %d %q, want %d %q", code, msg, c.code, c.msg)
			}
		})
	}

	resp, err := http.Get(srv.URL + "/tlsrpt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET = %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	q, err := store.ListQuarantine(context.Background(), reportstore.QuarantineOptions{})
	if err != nil || q.Total != 2 || q.Entries[1].Reason == "" || q.Entries[0].Source != reportstore.SourceHTTPS || q.Entries[0].Origin != "127.0.0.1" {
		t.Errorf("quarantine = %+v, %v", q, err)
	}
	for _, c := range []struct {
		outcome string
		want    float64
	}{{"accepted", 2}, {"duplicate", 2}, {"quarantined", 2}} {
		if got := counterValue(t, in.cfg.Metrics.reports.WithLabelValues("https", c.outcome)); got != c.want {
			t.Errorf("reports_received{https,%s} = %v, want %v", c.outcome, got, c.want)
		}
	}
	if got := counterValue(t, in.cfg.Metrics.sessions.WithLabelValues("certificate-expired")); got != 4 {
		t.Errorf("sessions{certificate-expired} = %v, want 4", got)
	}

	store.Close()
	code, msg := post(t, srv.URL, tlsrpt.MediaTypeJSON, jsonReport)
	if code != http.StatusServiceUnavailable {
		t.Errorf("POST with the store down = %d %q, want 503", code, msg)
	}
}

// FuzzHandler feeds arbitrary bodies to the POST endpoint: it must answer
// with a success or a 4xx, and never lose an accepted report.
func FuzzHandler(f *testing.F) {
	for _, name := range []string{"reports/google.com!example.com!1795132800!1795219199!001.json",
		"reports/microsoft.com!example.com!1795132800!1795219199!134090784000000000.json.gz", "bad/truncated.json.gz"} {
		f.Add(readFile(f, name))
	}
	f.Add([]byte(`{"organization-name":"x","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"},"policies":[]}`))
	f.Add(gzipBytes([]byte("{}")))
	// A store in memory: the fuzzer explores parsing, not SQLite.
	in, _ := newIngester(f, Config{MaxSize: 1 << 20, Store: memoryStore{}})
	// Every input is from one client: its rejected bodies are not limited.
	h := in.Handler(HandlerOptions{MaxBody: 256 << 10, RejectBurst: math.MaxInt32})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/tlsrpt", bytes.NewReader(body))
		req.Header.Set("Content-Type", tlsrpt.MediaTypeGzip)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// memoryStore accepts every report and quarantines the rest, storing
// nothing.
type memoryStore struct{}

func (memoryStore) AddBatch(_ context.Context, subs []*reportstore.Submission) []reportstore.Result {
	out := make([]reportstore.Result, len(subs))
	for i, s := range subs {
		out[i] = reportstore.Result{Outcome: reportstore.Accepted, ID: int64(i + 1)}
		if s.Report == nil {
			out[i] = reportstore.Result{Outcome: reportstore.Quarantined, ID: int64(i + 1), Reason: s.Reason}
		}
	}
	return out
}
