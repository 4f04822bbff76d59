package sts_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/mtasts/mtasts/sts"
)

// A policy file parsed, and MX hosts matched against its patterns (RFC
// 8461 §4.1: "*." stands for exactly one label).
func ExampleParsePolicy() {
	p, err := sts.ParsePolicy([]byte("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Mode, p.MaxAgeDuration(), p.MX)
	for _, host := range []string{"mx1.example.com", "eu.mail.example.com", "a.b.mail.example.com", "mx2.example.com"} {
		fmt.Println(host, p.Match(host))
	}
	// Output:
	// enforce 168h0m0s [mx1.example.com *.mail.example.com]
	// mx1.example.com true
	// eu.mail.example.com true
	// a.b.mail.example.com false
	// mx2.example.com false
}

// txtRecords is a DNS resolver that answers TXT queries from a map, for
// the example; a program passes nil (net.DefaultResolver) or its own.
type txtRecords map[string][]string

func (r txtRecords) LookupTXT(_ context.Context, name string) ([]string, error) {
	if txt, ok := r[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Discovering a domain's policy as a sender does (RFC 8461 §3): the TXT
// record _mta-sts.example.com, then the policy over HTTPS from
// mta-sts.example.com, here a test server with its own certificate.
func ExampleGet() {
	const policy = "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 86400\r\n"
	host := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mta-sts.example.com" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, policy)
	}))
	defer host.Close()
	roots := x509.NewCertPool()
	roots.AddCert(host.Certificate()) // valid for *.example.com
	opts := sts.FetchOptions{
		RootCAs: roots,
		// Every connection goes to the test server.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, host.Listener.Addr().String())
		},
	}
	dns := txtRecords{"_mta-sts.example.com.": {"v=STSv1; id=20260101T000000;"}}

	rec, f, err := sts.Get(context.Background(), dns, "Example.COM", opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("id", rec.ID)
	fmt.Println(f.URL, f.Status, f.Policy.Mode, f.Policy.MX)

	// No record: no policy (a temporary DNS failure would be ErrDNS).
	_, _, err = sts.Get(context.Background(), dns, "example.org", opts)
	fmt.Println(errors.Is(err, sts.ErrNoRecord))
	// Output:
	// id 20260101T000000
	// https://mta-sts.example.com/.well-known/mta-sts.txt 200 testing [mx.example.com]
	// true
}
