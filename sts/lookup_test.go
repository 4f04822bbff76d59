package sts

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/mtasts/mtasts/internal/testenv/testworld"
)

// fakeResolver answers from a map, for tests without sockets.
type fakeResolver struct {
	txts  map[string][]string
	errs  map[string]error
	names []string
}

func (f *fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	f.names = append(f.names, name)
	if err := f.errs[name]; err != nil {
		return nil, err
	}
	if t, ok := f.txts[name]; ok {
		return t, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestLookupRecordErrors(t *testing.T) {
	r := &fakeResolver{
		txts: map[string][]string{
			"_mta-sts.example.com.":           {"v=spf1 -all", "v=STSv1; id=abc;"},
			"_mta-sts.xn--bcher-kva.example.": {"v=STSv1; id=idn;"},
			"_mta-sts.two.example.":           {"v=STSv1; id=1;", "v=STSv1; id=2;"},
			"_mta-sts.bad.example.":           {"v=STSv1; id=a_b;"},
		},
		errs: map[string]error{
			"_mta-sts.servfail.example.": &net.DNSError{Err: "server misbehaving", IsTemporary: true},
			"_mta-sts.timeout.example.":  &net.DNSError{Err: "i/o timeout", IsTimeout: true},
			"_mta-sts.other.example.":    errors.New("connection refused"),
		},
	}
	tests := []struct {
		name    string
		domain  string
		wantID  string
		wantErr error
		notErr  []error
	}{
		{"RFC 8461 §3.1: record found among other TXT records", "Example.COM.", "abc", nil, nil},
		{"RFC 8461 §3.1: IDN domain queried as A-labels", "bücher.example", "idn", nil, nil},
		{"RFC 8461 §3.1: no record", "none.example", "", ErrNoRecord, []error{ErrDNS}},
		{"RFC 8461 §3.1: two records", "two.example", "", ErrMultipleRecords, []error{ErrDNS}},
		{"RFC 8461 §3.1: invalid record", "bad.example", "", ErrRecordSyntax, []error{ErrNoRecord, ErrDNS}},
		{"RFC 8461 §5.1: SERVFAIL is not the absence of a record", "servfail.example", "", ErrDNS, []error{ErrNoRecord}},
		{"RFC 8461 §5.1: timeout is not the absence of a record", "timeout.example", "", ErrDNS, []error{ErrNoRecord}},
		{"RFC 8461 §5.1: other errors are temporary", "other.example", "", ErrDNS, []error{ErrNoRecord}},
		{"RFC 8461 §3.4: IP address", "192.0.2.1", "", ErrInvalidDomain, []error{ErrNoRecord, ErrDNS}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, _, err := LookupRecord(context.Background(), r, tc.domain)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if rec.ID != tc.wantID {
					t.Errorf("ID = %q, want %q", rec.ID, tc.wantID)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			for _, not := range tc.notErr {
				if errors.Is(err, not) {
					t.Errorf("error %v must not be %v", err, not)
				}
			}
		})
	}
	if len(r.names) == 0 || r.names[0] != "_mta-sts.example.com." {
		t.Errorf("queried names %q, want _mta-sts.example.com. first", r.names)
	}
}

// worldResolver returns a Go resolver that asks only the world's DNS server.
func worldResolver(w *testworld.World) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, w.Resolver())
		},
	}
}

func TestLookupRecordWorld(t *testing.T) {
	t.Parallel()
	w := testworld.New(t)
	r := worldResolver(w)
	w.PolicyDomain("example.com", rfcExample)
	w.DNS.TXT("_mta-sts.split.example", "v=STSv1; ", "id=split;")
	w.DNS.TXT("_mta-sts.two.example", "v=STSv1; id=1;")
	w.DNS.TXT("_mta-sts.two.example", "v=STSv1; id=2;")
	w.DNS.TXT("_mta-sts.spf.example", "v=spf1 -all")
	w.DNS.Add("_mta-sts.nodata.example. A 192.0.2.1")
	w.DNS.TXT("_mta-sts.servfail.example", "v=STSv1; id=1;")
	w.DNS.SetRcode("_mta-sts.servfail.example", dns.TypeTXT, dns.RcodeServerFailure)
	w.DNS.SetRcode("_mta-sts.refused.example", dns.TypeTXT, dns.RcodeRefused)
	w.DNS.Drop("_mta-sts.dropped.example", dns.TypeTXT)
	w.DNS.Add("_mta-sts.alias.example. CNAME _mta-sts.target.example.")
	w.DNS.TXT("_mta-sts.target.example", "v=STSv1; id=target;")
	w.DNS.TXT("_mta-sts.bad.example", "v=STSv1; id=not valid;")

	tests := []struct {
		name     string
		domain   string
		wantID   string
		wantTXTs []string
		wantErr  error
		notErr   error
	}{
		{"RFC 8461 §3.1: published record", "example.com", w.PolicyID("example.com"), []string{"v=STSv1; id=" + w.PolicyID("example.com") + ";"}, nil, nil},
		{"RFC 8461 §3.1: strings of one record are joined", "split.example", "split", []string{"v=STSv1; id=split;"}, nil, nil},
		{"RFC 8461 §3.1: CNAME followed", "alias.example", "target", nil, nil, nil},
		{"RFC 8461 §3.1: NXDOMAIN", "nxdomain.example", "", nil, ErrNoRecord, ErrDNS},
		{"RFC 8461 §3.1: no TXT records (NODATA)", "nodata.example", "", nil, ErrNoRecord, ErrDNS},
		{"RFC 8461 §3.1: only other TXT records", "spf.example", "", []string{"v=spf1 -all"}, ErrNoRecord, ErrDNS},
		{"RFC 8461 §3.1: two records", "two.example", "", nil, ErrMultipleRecords, ErrDNS},
		{"RFC 8461 §3.1: invalid record", "bad.example", "", []string{"v=STSv1; id=not valid;"}, ErrRecordSyntax, ErrNoRecord},
		{"RFC 8461 §5.1: SERVFAIL is a DNS failure, not no record", "servfail.example", "", nil, ErrDNS, ErrNoRecord},
		{"RFC 8461 §5.1: REFUSED is a DNS failure, not no record", "refused.example", "", nil, ErrDNS, ErrNoRecord},
		{"RFC 8461 §5.1: timeout is a DNS failure, not no record", "dropped.example", "", nil, ErrDNS, ErrNoRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			rec, txts, err := LookupRecord(ctx, r, tc.domain)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || (tc.notErr != nil && errors.Is(err, tc.notErr)) {
					t.Fatalf("error %v, want %v and not %v", err, tc.wantErr, tc.notErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if rec.ID != tc.wantID {
				t.Errorf("ID = %q, want %q", rec.ID, tc.wantID)
			}
			if tc.wantTXTs != nil {
				if diff := cmp.Diff(tc.wantTXTs, txts); diff != "" {
					t.Errorf("TXT strings (-want +got):\n%s", diff)
				}
			}
		})
	}
}
