package monitor

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// mailSink is a submission server on loopback: STARTTLS with a
// certificate of the world's CA, AUTH PLAIN required before MAIL.
type mailSink struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

const sinkUser, sinkPassword = "monitor@example.net", "s3cret"

func newMailSink(t *testing.T, w *testworld.World) *mailSink {
	t.Helper()
	ms := &mailSink{}
	s := smtp.NewServer(ms)
	s.Domain = "submit.example.net"
	cert := w.CA.Valid(t, "submit.example.net")
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ms
}

// NewSession implements smtp.Backend.
func (ms *mailSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{sink: ms}, nil
}

// messages returns the bodies of the mail received.
func (ms *mailSink) messages() []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]string(nil), ms.msgs...)
}

type sinkSession struct {
	sink   *mailSink
	authed bool
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != sinkUser || pass != sinkPassword {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	return nil
}
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, string(b))
	s.sink.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }

// hookSink is a webhook receiver that keeps the JSON bodies POSTed to it.
type hookSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, body)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) received() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

// amSink plays Alertmanager's API v2: it keeps each alert by its labels,
// active until its end time passes on now, and counts the alerts that
// started (became active) and ended (an end time not after now).
type amSink struct {
	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	active   map[string]bool
	started  []string
	resolved []string
}

func newAMSink(t *testing.T, now func() time.Time) *amSink {
	a := &amSink{now: now, active: map[string]bool{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.NotFound(w, r)
			return
		}
		var alerts []struct {
			Labels   map[string]string `json:"labels"`
			StartsAt time.Time         `json:"startsAt"`
			EndsAt   time.Time         `json:"endsAt"`
		}
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil || len(alerts) == 0 {
			http.Error(w, "bad alerts", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, x := range alerts {
			if x.Labels["alertname"] == "" || x.StartsAt.IsZero() {
				http.Error(w, "alertname and startsAt are required", http.StatusBadRequest)
				return
			}
			key := fingerprint(x.Labels)
			ends := !x.EndsAt.IsZero() && !x.EndsAt.After(a.now())
			switch {
			case ends && a.active[key]:
				a.active[key] = false
				a.resolved = append(a.resolved, key)
			case !ends && !a.active[key]:
				a.active[key] = true
				a.started = append(a.started, key)
			}
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func fingerprint(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (a *amSink) counts() (started, resolved []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.started...), append([]string(nil), a.resolved...)
}

// alertKind returns the kind and status of an alert POSTed to a JSON
// webhook.
func alertKind(body map[string]any) (kind, status string) {
	k, _ := body["kind"].(string)
	s, _ := body["status"].(string)
	return k, s
}
