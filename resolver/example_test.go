package resolver_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/mtasts/mtasts/resolver"
	"github.com/mtasts/mtasts/sts"
)

// txtRecords answers TXT queries from a map, for the example: a record
// that is not there does not exist, and the lookup for
// dns-down.example.com fails as a SERVFAIL would. A program uses a real
// resolver, such as net.DefaultResolver.
type txtRecords map[string][]string

func (r txtRecords) LookupTXT(_ context.Context, name string) ([]string, error) {
	if name == "_mta-sts.dns-down.example.com." {
		return nil, errors.New("SERVFAIL")
	}
	if txt, ok := r[name]; ok {
		return txt, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// What a sending MTA must do for mail to a domain (RFC 8461 §5): the first
// decision for example.com fetches its policy, the next comes from the
// cache; a domain without a record has no policy; a temporary DNS failure
// with nothing cached defers the mail.
func ExampleResolver_Decide() {
	// The policy host mta-sts.example.com, with a test certificate.
	host := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.com\r\nmax_age: 604800\r\n")
	}))
	defer host.Close()
	roots := x509.NewCertPool()
	roots.AddCert(host.Certificate()) // valid for *.example.com

	r, err := resolver.New(resolver.Config{
		DNS: txtRecords{"_mta-sts.example.com.": {"v=STSv1; id=1;"}},
		Fetch: sts.FetchOptions{RootCAs: roots, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, host.Listener.Addr().String())
		}},
		// Cache: nil, a memory cache; see package cache for the others.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, domain := range []string{"example.com", "Example.COM.", "example.org", "dns-down.example.com"} {
		d, err := r.Decide(context.Background(), domain)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(d.Domain, d.Kind, d.Source, d.MX)
	}
	// Output:
	// example.com enforce fetch [mx1.example.com *.mail.example.com]
	// example.com enforce cache [mx1.example.com *.mail.example.com]
	// example.org no-policy dns []
	// dns-down.example.com tempfail dns []
}
