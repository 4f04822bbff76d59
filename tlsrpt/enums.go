package tlsrpt

// PolicyType is the kind of policy a sender applied to a domain
// ("policy-type", RFC 8460 §4.4). Values other than the constants below are
// kept as received.
type PolicyType string

// Policy types of RFC 8460 §4.4.
const (
	PolicyTLSA          PolicyType = "tlsa"            // DANE TLSA records (RFC 7672)
	PolicySTS           PolicyType = "sts"             // MTA-STS (RFC 8461)
	PolicyNoPolicyFound PolicyType = "no-policy-found" // neither was found
)

// Known reports whether t is one of the policy types of RFC 8460 §4.4.
func (t PolicyType) Known() bool {
	switch t {
	case PolicyTLSA, PolicySTS, PolicyNoPolicyFound:
		return true
	}
	return false
}

// ResultType names why sessions failed ("result-type", RFC 8460 §4.3). The
// values are those of the IANA "STARTTLS Validation Result Types"
// registry; others are kept as received.
type ResultType string

// Result types of RFC 8460 §4.3 and its IANA registry.
const (
	// Negotiation failures, RFC 8460 §4.3.1; validation-failure is also
	// the catch-all of §4.3.3.
	ResultSTARTTLSNotSupported    ResultType = "starttls-not-supported"
	ResultCertificateHostMismatch ResultType = "certificate-host-mismatch"
	ResultCertificateNotTrusted   ResultType = "certificate-not-trusted"
	ResultCertificateExpired      ResultType = "certificate-expired"
	ResultValidationFailure       ResultType = "validation-failure"

	// DANE policy failures, RFC 8460 §4.3.2.
	ResultTLSAInvalid   ResultType = "tlsa-invalid"
	ResultDNSSECInvalid ResultType = "dnssec-invalid"
	ResultDANERequired  ResultType = "dane-required"

	// MTA-STS policy failures, RFC 8460 §4.3.2.
	ResultSTSPolicyFetchError ResultType = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid    ResultType = "sts-policy-invalid"
	ResultSTSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// ResultTypes lists the result types registered by RFC 8460 §4.3, in the
// order of the RFC.
var ResultTypes = []ResultType{
	ResultSTARTTLSNotSupported, ResultCertificateHostMismatch, ResultCertificateNotTrusted,
	ResultCertificateExpired, ResultValidationFailure,
	ResultTLSAInvalid, ResultDNSSECInvalid, ResultDANERequired,
	ResultSTSPolicyFetchError, ResultSTSPolicyInvalid, ResultSTSWebPKIInvalid,
}

// Known reports whether t is a result type registered by RFC 8460 §4.3.
func (t ResultType) Known() bool {
	for _, k := range ResultTypes {
		if t == k {
			return true
		}
	}
	return false
}
