package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtasts/mtasts/reportstore"
	"github.com/mtasts/mtasts/tlsrpt"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// dkimKeys serves the DKIM key records of testdata/dkim.
func dkimKeys(t testing.TB) func(ctx context.Context, name string) ([]string, error) {
	t.Helper()
	keys := map[string][]string{}
	files, _ := filepath.Glob("testdata/dkim/*.txt")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keys[strings.TrimSuffix(filepath.Base(f), ".txt")] = []string{strings.TrimSpace(string(data))}
	}
	return func(_ context.Context, name string) ([]string, error) {
		if v, ok := keys[strings.TrimSuffix(name, ".")]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("lookup %s: no such host", name)
	}
}

// newStore opens an empty SQLite store.
func newStore(t testing.TB) *reportstore.Store {
	t.Helper()
	s, err := reportstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "reports.db"), reportstore.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newIngester returns an Ingester over a new store, with cfg's other
// settings.
func newIngester(t testing.TB, cfg Config) (*Ingester, *reportstore.Store) {
	t.Helper()
	var store *reportstore.Store
	if cfg.Store == nil {
		store = newStore(t)
		cfg.Store = store
	}
	if cfg.LookupTXT == nil {
		cfg.LookupTXT = dkimKeys(t)
	}
	cfg.Now = func() time.Time { return testNow }
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in, store
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hasDiag(diags []tlsrpt.Diagnostic, code tlsrpt.DiagnosticCode) bool {
	for _, d := range diags {
		if d.Code == code {
			return true
		}
	}
	return false
}

func TestIngestMail(t *testing.T) {
	in, store := newIngester(t, Config{})
	ctx := context.Background()
	for _, c := range []struct {
		file     string
		outcome  reportstore.Outcome
		dkim     reportstore.DKIMStatus
		diag     tlsrpt.DiagnosticCode
		org      string
		failures int64
	}{
		{"mail/google.eml", reportstore.Accepted, reportstore.DKIMPass, "", "Google Inc.", 6},
		{"mail/microsoft.eml", reportstore.Accepted, reportstore.DKIMNone, tlsrpt.DiagPolicyStringEncoded, "Microsoft Corporation", 3},
		{"mail/mailru.eml", reportstore.Accepted, reportstore.DKIMNone, tlsrpt.DiagMailMissingHeader, "Mail.Ru", 1},
		{"mail/forwarded.eml", reportstore.Duplicate, reportstore.DKIMNone, tlsrpt.DiagMailForwarded, "Google Inc.", 6},
	} {
		t.Run(c.file, func(t *testing.T) {
			out, err := in.Ingest(ctx, Input{Data: readFile(t, c.file), Kind: KindMail, Source: reportstore.SourceSMTP, Origin: c.file})
			if err != nil {
				t.Fatal(err)
			}
			if out.Outcome != c.outcome || out.Mail.DKIM != c.dkim {
				t.Fatalf("outcome %s, DKIM %s (%s); want %s, %s", out.Outcome, out.Mail.DKIM, out.Reason, c.outcome, c.dkim)
			}
			if c.diag != "" && !hasDiag(out.Diagnostics, c.diag) {
				t.Errorf("no %s diagnostic in %v", c.diag, out.Diagnostics)
			}
			rep, err := store.GetReport(ctx, out.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Organization != c.org || rep.Failed != c.failures || rep.Domains[0] != "example.com" || rep.RawType != "message/rfc822" {
				t.Errorf("stored %+v", rep.ReportInfo)
			}
		})
	}
}

func TestDKIMPolicies(t *testing.T) {
	ctx := context.Background()
	google := readFile(t, "mail/google.eml")
	tampered := []byte(strings.Replace(string(google), "Report Domain: example.com", "Report Domain: example.org", 1))
	microsoft := readFile(t, "mail/microsoft.eml")
	noKeys := func(context.Context, string) ([]string, error) {
		return nil, &timeoutError{}
	}
	for _, c := range []struct {
		name   string
		cfg    Config
		data   []byte
		want   reportstore.Outcome
		dkim   reportstore.DKIMStatus
		reason string
		temp   bool
	}{
		{"check tampered", Config{}, tampered, reportstore.Accepted, reportstore.DKIMFail, "", false},
		{"require signed", Config{DKIM: DKIMRequire}, google, reportstore.Accepted, reportstore.DKIMPass, "", false},
		{"require unsigned", Config{DKIM: DKIMRequire}, microsoft, reportstore.Quarantined, reportstore.DKIMNone, "DKIM none", false},
		{"require tampered", Config{DKIM: DKIMRequire}, tampered, reportstore.Quarantined, reportstore.DKIMFail, "DKIM fail", false},
		{"require key unavailable", Config{DKIM: DKIMRequire, LookupTXT: noKeys}, google, "", reportstore.DKIMTempError, "", true},
		{"check key unavailable", Config{LookupTXT: noKeys}, google, reportstore.Accepted, reportstore.DKIMTempError, "", false},
		{"off", Config{DKIM: DKIMOff}, tampered, reportstore.Accepted, reportstore.DKIMSkipped, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, _ := newIngester(t, c.cfg)
			out, err := in.Ingest(ctx, Input{Data: c.data, Kind: KindMail, Source: reportstore.SourceIMAP})
			if c.temp {
				if !errors.Is(err, ErrTemporary) {
					t.Fatalf("err = %v, want ErrTemporary", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Outcome != c.want || out.Mail.DKIM != c.dkim || !strings.Contains(out.Reason, c.reason) {
				t.Errorf("outcome %s, DKIM %s, reason %q", out.Outcome, out.Mail.DKIM, out.Reason)
			}
		})
	}
	if _, err := New(Config{Store: newStore(t), DKIM: "sometimes"}); err == nil {
		t.Error("New accepted DKIM policy \"sometimes\"")
	}
}

// timeoutError is a DNS timeout, which DKIM treats as temporary.
type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

func TestStoreDownIsTemporary(t *testing.T) {
	in, store := newIngester(t, Config{})
	store.Close()
	out, err := in.Ingest(context.Background(), Input{Data: readFile(t, "mail/google.eml"), Kind: KindMail})
	if !errors.Is(err, ErrTemporary) || out.Outcome != "" {
		t.Errorf("Ingest into a closed store = %+v, %v; want ErrTemporary", out, err)
	}
}
