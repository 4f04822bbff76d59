package check

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// Facts are what a check observed, for reports and machine use. Durations
// are measured with Options.Now, so they are zero under a fixed clock.
type Facts struct {
	Record     RecordFacts      `json:"record"`
	PolicyHost *PolicyHostFacts `json:"policy_host,omitempty"`
	Policy     *PolicyFacts     `json:"policy,omitempty"`
	MX         MXFacts          `json:"mx"`
	TLSRPT     TLSRPTFacts      `json:"tlsrpt"`
}

// RecordFacts describe the _mta-sts TXT record (RFC 8461 §3.1).
type RecordFacts struct {
	// Name is "_mta-sts.<domain>".
	Name string `json:"name"`
	// TXT are all TXT records at Name, strings joined.
	TXT []string `json:"txt"`
	// ID is the id of the valid record, if any.
	ID string `json:"id,omitempty"`
	// Valid reports whether exactly one valid STSv1 record was found.
	Valid bool `json:"valid"`
}

// PolicyHostFacts describe the policy host and the fetch of the policy
// (RFC 8461 §3.3).
type PolicyHostFacts struct {
	// Name is "mta-sts.<domain>".
	Name string `json:"name"`
	// Addresses are the host's addresses, IPv4 first.
	Addresses []string `json:"addresses"`
	// URL is the policy URL.
	URL string `json:"url"`
	// Status, ContentType and Bytes describe the HTTP response, if any.
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Bytes       int    `json:"bytes"`
	// FetchMS is how long the fetch took, in milliseconds.
	FetchMS int64 `json:"fetch_ms"`
	// TLS describes the connection, when a handshake took place.
	TLS *TLSFacts `json:"tls,omitempty"`
}

// TLSFacts describe a TLS session and the certificate presented.
type TLSFacts struct {
	Version     string     `json:"version,omitempty"`
	CipherSuite string     `json:"cipher_suite,omitempty"`
	Certificate *CertFacts `json:"certificate,omitempty"`
}

// CertFacts describe a leaf certificate.
type CertFacts struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	DNSNames []string  `json:"dns_names"`
	NotAfter time.Time `json:"not_after"`
	// DaysLeft is the number of whole days until NotAfter, negative once
	// expired for a day or more.
	DaysLeft int `json:"days_left"`
}

// PolicyFacts describe a parsed policy (RFC 8461 §3.2).
type PolicyFacts struct {
	Mode   string   `json:"mode"`
	MaxAge int64    `json:"max_age"`
	MX     []string `json:"mx"`
	// Text is the policy as served.
	Text string `json:"text"`
}

// MXFacts describe the MX records of the domain and their hosts.
type MXFacts struct {
	// Probed reports whether port 25 was probed (not with Options.NoMX).
	Probed bool `json:"probed"`
	// Null reports a null MX (RFC 7505).
	Null bool `json:"null,omitempty"`
	// Implicit reports that the domain has no MX records and its own
	// address is used instead (RFC 5321 §5.1).
	Implicit bool          `json:"implicit,omitempty"`
	Hosts    []MXHostFacts `json:"hosts"`
}

// MXHostFacts describe one MX host.
type MXHostFacts struct {
	Host       string `json:"host"`
	Preference uint16 `json:"preference"`
	// Covered reports whether a policy pattern matches the host (RFC 8461
	// §4.1); nil when there is no usable policy.
	Covered   *bool          `json:"covered,omitempty"`
	Addresses []AddressFacts `json:"addresses"`
	TLSA      *TLSAFacts     `json:"tlsa,omitempty"`
}

// AddressFacts describe the probe of one address of an MX host on port 25.
type AddressFacts struct {
	IP string `json:"ip"`
	// Skipped says why the address was not probed, if it was not.
	Skipped  string    `json:"skipped,omitempty"`
	EHLOName string    `json:"ehlo_name,omitempty"`
	STARTTLS bool      `json:"starttls"`
	TLS      *TLSFacts `json:"tls,omitempty"`
	// Error is the failure that stopped the probe, if any.
	Error   string `json:"error,omitempty"`
	ProbeMS int64  `json:"probe_ms"`
}

// TLSAFacts describe the TLSA records of an MX host (RFC 7672).
type TLSAFacts struct {
	Name    string   `json:"name"`
	Records []string `json:"records"`
	// Authenticated is the AD bit of the answer (DNSSEC-validated by the
	// resolver).
	Authenticated bool `json:"authenticated"`
}

// TLSRPTFacts describe the _smtp._tls TXT record (RFC 8460 §3).
type TLSRPTFacts struct {
	Name string   `json:"name"`
	TXT  []string `json:"txt"`
	// RUA are the report destinations of the valid record.
	RUA []string `json:"rua,omitempty"`
}

// newTLSFacts describes a TLS session (version and cipher suite may be 0
// when unknown) and the leaf of chain.
func newTLSFacts(version, cipher uint16, chain []*x509.Certificate, now time.Time) *TLSFacts {
	f := &TLSFacts{}
	if version != 0 {
		f.Version = tls.VersionName(version)
		f.CipherSuite = tls.CipherSuiteName(cipher)
	}
	if len(chain) > 0 {
		f.Certificate = newCertFacts(chain[0], now)
	}
	return f
}

func newCertFacts(c *x509.Certificate, now time.Time) *CertFacts {
	names := c.DNSNames
	if names == nil {
		names = []string{}
	}
	return &CertFacts{
		Subject:  c.Subject.String(),
		Issuer:   issuerName(c),
		DNSNames: names,
		NotAfter: c.NotAfter.UTC(),
		DaysLeft: daysLeft(c.NotAfter, now),
	}
}

// daysLeft is the number of whole days from now until t, counted towards
// zero: 0 within a day either side, negative once expired for a day or
// more.
func daysLeft(t, now time.Time) int {
	return int(t.Sub(now) / (24 * time.Hour))
}

// issuerName is the common name of the issuer of c, or its whole name.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}
