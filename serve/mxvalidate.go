package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mtasts/mtasts/internal/probe"
)

// mxValidateTimeout bounds the probe of one new MX host.
const mxValidateTimeout = 30 * time.Second

// newMXValidator returns the check that a host new in the live MX records
// of an mx auto domain in mode enforce passes before its policy lists it:
// the host accepts a connection on port 25, offers STARTTLS, negotiates
// TLS 1.2 or newer, and presents a certificate that chains to roots (nil:
// the system's) and is valid for its name (RFC 8461 §4.2).
func newMXValidator(dial func(ctx context.Context, network, addr string) (net.Conn, error), roots *x509.CertPool, now func() time.Time) func(context.Context, string) error {
	return func(ctx context.Context, host string) error {
		r := probe.Probe(ctx, host, "", probe.Options{Dial: dial, RootCAs: roots, Timeout: mxValidateTimeout, Now: now})
		switch {
		case r.Err != nil:
			return r.Err
		case !r.STARTTLS:
			return errors.New("no STARTTLS")
		case r.TLSVersion < tls.VersionTLS12:
			return fmt.Errorf("%s; RFC 8461 §4.2 needs TLS 1.2 or newer", r.TLSVersionName())
		case !r.Verified:
			return r.VerifyError
		case !r.NameMatch:
			return r.NameError
		}
		return nil
	}
}
