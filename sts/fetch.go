package sts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of FetchOptions, the limits RFC 8461 §3.3 suggests.
const (
	DefaultFetchTimeout = time.Minute
	DefaultMaxBytes     = 64 << 10
)

// PolicyPath is the path of the policy on the policy host (RFC 8461 §3.2).
const PolicyPath = "/.well-known/mta-sts.txt"

// defaultUserAgent is sent when FetchOptions.UserAgent is empty.
const defaultUserAgent = "mtasts"

// PolicyURL returns https://mta-sts.<domain>/.well-known/mta-sts.txt for a
// normalized domain (RFC 8461 §3.3).
func PolicyURL(domain string) string {
	return "https://mta-sts." + domain + PolicyPath
}

// FetchOptions configure FetchPolicy. The zero value fetches with the
// system's roots, resolver and clock, and the limits of RFC 8461 §3.3.
type FetchOptions struct {
	// HTTPClient is optional. Only its Transport is used: redirects are
	// always refused, no cookie jar is used and there is no HTTP cache. An
	// *http.Transport is cloned and its TLS settings are overridden as
	// described below (including InsecureSkipVerify, which is turned off);
	// its Proxy is kept. Any other RoundTripper is used as it is, and the
	// certificate it saw is verified again after the response arrives.
	HTTPClient *http.Client
	// RootCAs are the trusted roots; nil means the system's.
	RootCAs *x509.CertPool
	// DialContext opens TCP connections; nil means a net.Dialer with the
	// system resolver.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds the whole fetch, body included; 0 means
	// DefaultFetchTimeout.
	Timeout time.Duration
	// MaxBytes caps the policy body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// UserAgent is the User-Agent header; "" means "mtasts".
	UserAgent string
}

// Fetched is what FetchPolicy observed. On error it holds whatever was
// observed before the failure, so that an auditor can show the facts.
type Fetched struct {
	URL         string
	Status      int
	ContentType string
	Header      http.Header
	// Body is the policy body, at most MaxBytes long; set once read.
	Body []byte
	// Policy is the parsed policy, set on success.
	Policy *Policy
	// Warnings are ParsePolicyLint's warnings about Body.
	Warnings []Warning
	// TLS is the connection state of the response, if one arrived.
	TLS *tls.ConnectionState
	// Duration is how long the fetch took.
	Duration time.Duration
}

// FetchPolicy fetches and parses the policy of domain over HTTPS, by the
// rules of RFC 8461 §3.3. It does HTTPS only (and the A/AAAA lookups of
// the dialer): it does not look at the TXT record.
//
//   - GET https://mta-sts.<domain>/.well-known/mta-sts.txt with SNI
//     mta-sts.<domain> (§7.1) and TLS 1.2 or newer (§7.2).
//   - The certificate must chain to RootCAs and be valid at Now for
//     mta-sts.<domain> as a DNS-ID (RFC 6125: subjectAltName DNS names
//     only, no common name fallback, a wildcard only as the whole
//     left-most label).
//   - Only status 200 succeeds; a redirect is never followed (StageRedirect,
//     with its Location). No cookies and no cache are used; the request
//     carries "Cache-Control: no-cache".
//   - The media type must be text/plain; its parameters (such as charset)
//     are ignored (§3.2).
//   - The body is capped at MaxBytes, whether announced by Content-Length
//     or not, and the whole fetch at Timeout.
//   - Proxies from the environment (HTTPS_PROXY) are never used: a sender
//     reaches the policy host directly, as it reaches MX hosts, and the
//     injected resolver and dialer stay in charge. A proxy can still be
//     set on HTTPClient's transport.
//
// Failures are a *FetchError (ErrPolicyFetch) naming the stage, or a
// *SyntaxError (ErrPolicySyntax) if the body is not a valid policy; a bad
// domain is ErrInvalidDomain. The *Fetched is returned in every case but
// the last.
func FetchPolicy(ctx context.Context, domain string, opts FetchOptions) (*Fetched, error) {
	start := time.Now()
	d, err := NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	host := "mta-sts." + d
	f := &Fetched{URL: PolicyURL(d)}
	defer func() { f.Duration = time.Since(start) }()

	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt, closeIdle := opts.roundTripper(host)
	defer closeIdle()
	client := &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return f, &FetchError{Stage: StageConnect, URL: f.URL, Err: err}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Cache-Control", "no-cache")

	resp, err := client.Do(req)
	if err != nil {
		return f, classifyFetchError(ctx, f.URL, err)
	}
	defer resp.Body.Close()
	f.Status = resp.StatusCode
	f.Header = resp.Header
	f.ContentType = resp.Header.Get("Content-Type")
	f.TLS = resp.TLS
	fail := func(stage string, err error) (*Fetched, error) {
		return f, &FetchError{Stage: stage, URL: f.URL, StatusCode: resp.StatusCode, Err: err}
	}
	if err := opts.checkTLS(resp.TLS, host); err != nil {
		return fail(StageTLS, err)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
		return f, &FetchError{Stage: StageRedirect, URL: f.URL, StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	case resp.StatusCode != http.StatusOK:
		return fail(StageStatus, nil)
	}
	if mt := mediaType(f.ContentType); mt != "text/plain" {
		return fail(StageContentType, fmt.Errorf("media type %q, want \"text/plain\" (%s)", mt, secPolicy))
	}
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if resp.ContentLength > limit {
		return fail(StageSize, fmt.Errorf("announced Content-Length %d exceeds the limit of %d bytes (%s)", resp.ContentLength, limit, secFetch))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(body)) > limit {
		f.Body = body[:limit]
		return fail(StageSize, fmt.Errorf("body exceeds the limit of %d bytes (%s)", limit, secFetch))
	}
	f.Body = body
	if err != nil {
		fe := classifyFetchError(ctx, f.URL, err)
		fe.StatusCode = resp.StatusCode
		return f, fe
	}
	p, warnings, err := ParsePolicyLint(body)
	f.Warnings = warnings
	if err != nil {
		return f, err
	}
	f.Policy = p
	return f, nil
}

// Get discovers the policy of domain (RFC 8461 §3): LookupRecord, then,
// if a record was found, FetchPolicy. When opts.DialContext is nil and r
// is a *net.Resolver, the policy host is resolved with r as well.
// Errors are those of LookupRecord and FetchPolicy; the record is returned
// whenever it was found, the *Fetched whenever a fetch was tried.
func Get(ctx context.Context, r Resolver, domain string, opts FetchOptions) (*Record, *Fetched, error) {
	rec, _, err := LookupRecord(ctx, r, domain)
	if err != nil {
		return nil, nil, err
	}
	if nr, ok := r.(*net.Resolver); ok && opts.DialContext == nil {
		opts.DialContext = (&net.Dialer{Resolver: nr}).DialContext
	}
	f, err := FetchPolicy(ctx, domain, opts)
	return rec, f, err
}

// tlsConfig returns the client TLS settings of a fetch from host.
func (o *FetchOptions) tlsConfig(base *tls.Config, host string) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	cfg.ServerName = host // SNI (RFC 8461 §7.1) and the DNS-ID verified (RFC 6125)
	cfg.InsecureSkipVerify = false
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	if o.RootCAs != nil {
		cfg.RootCAs = o.RootCAs
	}
	if o.Now != nil {
		cfg.Time = o.Now
	}
	return cfg
}

// roundTripper returns the transport of a fetch from host and a function
// that releases its idle connections.
func (o *FetchOptions) roundTripper(host string) (http.RoundTripper, func()) {
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		t, ok := o.HTTPClient.Transport.(*http.Transport)
		if !ok {
			return o.HTTPClient.Transport, func() {}
		}
		t = t.Clone()
		t.TLSClientConfig = o.tlsConfig(t.TLSClientConfig, host)
		if o.DialContext != nil {
			t.DialContext = o.DialContext
		}
		t.DisableCompression = true
		return t, t.CloseIdleConnections
	}
	dial := o.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	cfg := o.tlsConfig(nil, host)
	cfg.NextProtos = []string{"http/1.1"}
	t := &http.Transport{
		Proxy: nil, // never from the environment; see FetchPolicy
		// Dialling and the handshake are done here so that a failure
		// names its stage exactly.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				stage := StageConnect
				if de := (*net.DNSError)(nil); errors.As(err, &de) {
					stage = StageDNS
				}
				return nil, &FetchError{Stage: stage, Err: err}
			}
			tc := tls.Client(conn, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, &FetchError{Stage: StageTLS, Err: err}
			}
			return tc, nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: DefaultMaxBytes,
	}
	return t, t.CloseIdleConnections
}

// checkTLS checks the connection a response came over: TLS 1.2 or newer
// (RFC 8461 §7.2) and a certificate verified for host (§3.3). A transport
// that skipped verification is caught here.
func (o *FetchOptions) checkTLS(cs *tls.ConnectionState, host string) error {
	switch {
	case cs == nil:
		return fmt.Errorf("the response did not come over TLS (%s)", secFetch)
	case cs.Version < tls.VersionTLS12:
		return fmt.Errorf("TLS version %s is older than 1.2", tls.VersionName(cs.Version))
	case len(cs.PeerCertificates) == 0:
		return fmt.Errorf("the server sent no certificate (%s)", secFetch)
	case len(cs.VerifiedChains) > 0:
		// Verified by the transport; make sure it was for host.
		return cs.PeerCertificates[0].VerifyHostname(host)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         o.RootCAs,
		Intermediates: inter,
		CurrentTime:   now(),
	})
	return err
}

// classifyFetchError turns an error of the HTTP client into a *FetchError
// with the stage it failed at.
func classifyFetchError(ctx context.Context, url string, err error) *FetchError {
	fe := &FetchError{URL: url, Err: err}
	var inner *FetchError
	if errors.As(err, &inner) {
		fe.Stage, fe.Err = inner.Stage, inner.Err
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		fe.Stage = StageTimeout
		if inner != nil {
			fe.Err = fmt.Errorf("%w (during %s)", inner.Err, inner.Stage)
		}
		return fe
	}
	if inner != nil {
		return fe
	}
	var (
		de   *net.DNSError
		cve  *tls.CertificateVerificationError
		rhe  tls.RecordHeaderError
		ae   tls.AlertError
		uae  x509.UnknownAuthorityError
		he   x509.HostnameError
		cie  x509.CertificateInvalidError
		nerr net.Error
	)
	switch {
	case errors.As(err, &de):
		fe.Stage = StageDNS
	case errors.As(err, &cve), errors.As(err, &rhe), errors.As(err, &ae),
		errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie):
		fe.Stage = StageTLS
	case errors.As(err, &nerr) && nerr.Timeout():
		fe.Stage = StageTimeout
	default:
		// The connection failed or the server's HTTP was malformed.
		fe.Stage = StageConnect
	}
	return fe
}

// mediaType returns the lower-cased media type of a Content-Type value,
// without parameters, which RFC 8461 §3.2 says to ignore.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
