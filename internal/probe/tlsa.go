package probe

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/miekg/dns"
)

// TLSA certificate usages that SMTP uses (RFC 7672 §3.1).
const (
	usageDANETA = 2 // trust anchor: a CA certificate or key in the chain
	usageDANEEE = 3 // end entity: the server's own certificate or key
)

// TLSAMatches reports whether a certificate chain, as presented by a
// server (leaf first), matches one of the TLSA records published for it,
// and describes the outcome in detail.
//
// It implements the matching rules of RFC 7672 §3.1 for SMTP:
//
//   - DANE-EE(3) matches the leaf certificate (selector Cert(0)) or its
//     public key (selector SPKI(1));
//   - DANE-TA(2) matches a non-leaf certificate of the chain, or its key,
//     from which the leaf descends by signatures through the chain;
//   - matching type Full(0) compares the data itself, SHA2-256(1) and
//     SHA2-512(2) its digest.
//
// Records with usages PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
// (RFC 7672 §3.1.3), like records with unknown selectors or matching
// types or malformed data; they never match. TLSAMatches checks
// presence only: DNSSEC, expiry and, for DANE-TA, the host name are the
// caller's to check.
func TLSAMatches(chain []*x509.Certificate, tlsa []*dns.TLSA) (matched bool, detail string) {
	if len(chain) == 0 {
		return false, "no certificate presented"
	}
	usable := 0
	for _, rr := range tlsa {
		want, err := hex.DecodeString(rr.Certificate)
		if err != nil || rr.Selector > 1 || rr.MatchingType > 2 ||
			(rr.Usage != usageDANETA && rr.Usage != usageDANEEE) {
			continue
		}
		usable++
		switch rr.Usage {
		case usageDANEEE:
			if tlsaData(rr, chain[0], want) {
				return true, fmt.Sprintf("%s matches the leaf certificate", describeTLSA(rr))
			}
		case usageDANETA:
			for i, c := range chain[1:] {
				if tlsaData(rr, c, want) && descendsFrom(chain, c) {
					return true, fmt.Sprintf("%s matches certificate %d of the chain (%s)",
						describeTLSA(rr), i+1, c.Subject)
				}
			}
		}
	}
	if usable == 0 {
		return false, fmt.Sprintf("none of %d TLSA records is usable for SMTP "+
			"(RFC 7672 §3.1.3: DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching type 0 to 2)", len(tlsa))
	}
	return false, fmt.Sprintf("none of %d usable TLSA records matches the %d certificates presented",
		usable, len(chain))
}

// tlsaData reports whether the data of rr, decoded as want, matches c.
func tlsaData(rr *dns.TLSA, c *x509.Certificate, want []byte) bool {
	got, err := dns.CertificateToDANE(rr.Selector, rr.MatchingType, c)
	if err != nil {
		return false
	}
	gotBytes, err := hex.DecodeString(got)
	return err == nil && bytes.Equal(gotBytes, want)
}

// descendsFrom reports whether the leaf of chain is signed, directly or
// through other certificates of chain, by anchor's key. With DANE-TA the
// anchor is trusted as it is: neither its validity dates nor its CA flag
// are checked, only signatures.
func descendsFrom(chain []*x509.Certificate, anchor *x509.Certificate) bool {
	child := chain[0]
	// Each step climbs to a different certificate of the chain, so a path
	// is at most len(chain) steps long.
	for range chain {
		if signedBy(child, anchor) {
			return true
		}
		parent := (*x509.Certificate)(nil)
		for _, c := range chain[1:] {
			if c != child && c != anchor && signedBy(child, c) {
				parent = c
				break
			}
		}
		if parent == nil {
			return false
		}
		child = parent
	}
	return false
}

// signedBy reports whether child names parent as its issuer and carries a
// signature made with parent's key.
func signedBy(child, parent *x509.Certificate) bool {
	return bytes.Equal(child.RawIssuer, parent.RawSubject) &&
		parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
}

// describeTLSA renders the parameters of rr in the mnemonic form of RFC
// 7218, as "DANE-EE(3) SPKI(1) SHA2-256(1)".
func describeTLSA(rr *dns.TLSA) string {
	usages := map[uint8]string{usageDANETA: "DANE-TA", usageDANEEE: "DANE-EE"}
	selectors := []string{"Cert", "SPKI"}
	matchings := []string{"Full", "SHA2-256", "SHA2-512"}
	return fmt.Sprintf("TLSA %s(%d) %s(%d) %s(%d)",
		usages[rr.Usage], rr.Usage, selectors[rr.Selector], rr.Selector,
		matchings[rr.MatchingType], rr.MatchingType)
}
