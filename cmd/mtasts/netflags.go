package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtasts/mtasts/internal/buildinfo"
	"github.com/mtasts/mtasts/internal/dnsx"
	"github.com/mtasts/mtasts/internal/rootca"
	"github.com/mtasts/mtasts/sts"
)

// netFlags are the flags every command that uses the network shares.
type netFlags struct {
	resolver string
	caFile   string
	timeout  time.Duration
}

func (f *netFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.resolver, "resolver", "", "DNS server to ask, as HOST or HOST:PORT (default: the servers in /etc/resolv.conf)")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of trusted root certificates (default: the system roots; SSL_CERT_FILE is honoured)")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "time limit for each network operation (RFC 8461 §3.3 suggests one minute for a policy fetch)")
}

// dnsClient returns the DNS client the flags select.
func (f *netFlags) dnsClient() (*dnsx.Client, error) {
	c, err := dnsx.NewFromAddr(f.resolver)
	if err != nil {
		return nil, fmt.Errorf("DNS resolver: %w", err)
	}
	return c, nil
}

// liveDNSClient is dnsClient for commands that cannot run without DNS. A
// resolver that gives no reply at all is exit status 3 for every command,
// never a verdict about a domain (see the root help for the table).
func (f *netFlags) liveDNSClient(ctx context.Context) (*dnsx.Client, error) {
	return liveResolver(ctx, f.resolver)
}

// liveResolver returns a DNS client for addr (the system's servers if
// empty) once one of its servers has answered.
func liveResolver(ctx context.Context, addr string) (*dnsx.Client, error) {
	c, err := dnsx.NewFromAddr(addr)
	if err != nil {
		return nil, usageError(fmt.Errorf("DNS resolver: %w", err))
	}
	if err := c.Ping(ctx); err != nil {
		return nil, &exitError{code: exitCannotRun, err: err}
	}
	return c, nil
}

// rootCAs returns the trusted roots: --ca-file, else the file named by
// SSL_CERT_FILE, else nil, which means the system roots.
func (f *netFlags) rootCAs(e *env) (*x509.CertPool, error) {
	return rootca.Load(f.caFile, e.getenv)
}

// fetchOptions builds the policy fetch options from the flags.
func (f *netFlags) fetchOptions(e *env) (sts.FetchOptions, error) {
	roots, err := f.rootCAs(e)
	if err != nil {
		return sts.FetchOptions{}, err
	}
	dial := e.dial
	if dial == nil && f.resolver != "" {
		// --resolver answers the policy host's address too, not only
		// the TXT record.
		c, err := f.dnsClient()
		if err != nil {
			return sts.FetchOptions{}, err
		}
		dial = c.Dialer(nil)
	}
	return sts.FetchOptions{
		RootCAs:     roots,
		DialContext: dial,
		Timeout:     f.timeout,
		Now:         e.now,
		UserAgent:   userAgent(),
	}, nil
}

// userAgent is the User-Agent of policy fetches.
func userAgent() string { return "mtasts/" + buildinfo.Version() }
