package check

// Definition describes one finding code: what it means and how to fix it.
// The catalogue of definitions is the one place where codes are defined;
// docs/findings.md is generated from it.
type Definition struct {
	Code     Code
	Severity Severity
	Area     Area
	// Meaning says what the finding means, in one sentence.
	Meaning string
	// RFC names the rule, such as "RFC 8461 §3.1".
	RFC string
	// Fix says what to change, in one sentence.
	Fix string
	// Blocks is true for the failures of RFC 8461 §4 that make a sender
	// enforcing the policy refuse to deliver to the MX host.
	Blocks bool
}

// RFC sections cited by the catalogue.
const (
	rfcRecord    = "RFC 8461 §3.1"
	rfcPolicy    = "RFC 8461 §3.2"
	rfcFetch     = "RFC 8461 §3.3"
	rfcMatch     = "RFC 8461 §4.1"
	rfcCert      = "RFC 8461 §4.2"
	rfcApply     = "RFC 8461 §5"
	rfcTLSVer    = "RFC 8461 §7.2"
	rfcSTARTTLS  = "RFC 8461 §4.2, RFC 3207"
	rfcMX        = "RFC 5321 §5.1"
	rfcNullMX    = "RFC 7505 §3"
	rfcDANE      = "RFC 7672 §2.2"
	rfcDANEMatch = "RFC 7672 §3.1"
	rfcTLSRPT    = "RFC 8460 §3"
	rfcWeakTLS   = "RFC 7525 §4.2"
)

// Codes of the catalogue, one constant each. They are unexported: callers
// compare Finding.Code with the documented strings, which never change.
const (
	stsRecordMissing          Code = "sts-record-missing"
	stsRecordMultiple         Code = "sts-record-multiple"
	stsRecordSyntax           Code = "sts-record-syntax"
	stsRecordIDMissing        Code = "sts-record-id-missing"
	stsRecordIDInvalid        Code = "sts-record-id-invalid"
	stsRecordExtensionInvalid Code = "sts-record-extension-invalid"
	stsRecordOtherTXT         Code = "sts-record-other-txt"
	stsRecordAtApex           Code = "sts-record-at-apex"
	stsRecordDNSError         Code = "sts-record-dns-error"
	resolverTimeout           Code = "resolver-timeout"

	policyHostDNSMissing   Code = "policy-host-dns-missing"
	policyHostDNSError     Code = "policy-host-dns-error"
	policyHostNotPublic    Code = "policy-host-not-public"
	policyHostConnect      Code = "policy-host-connect"
	policyHostTLS          Code = "policy-host-tls"
	policyCertUntrusted    Code = "policy-cert-untrusted"
	policyCertNameMismatch Code = "policy-cert-name-mismatch"
	policyCertExpired      Code = "policy-cert-expired"
	policyCertExpiringSoon Code = "policy-cert-expiring-soon"
	policyCertExpiring     Code = "policy-cert-expiring"
	policyHTTPStatus       Code = "policy-http-status"
	policyRedirect         Code = "policy-redirect"
	policyContentType      Code = "policy-content-type"
	policyTooLarge         Code = "policy-too-large"
	policyFetchTimeout     Code = "policy-fetch-timeout"
	policyFetchSlow        Code = "policy-fetch-slow"

	policySyntax           Code = "policy-syntax"
	policyVersionInvalid   Code = "policy-version-invalid"
	policyModeInvalid      Code = "policy-mode-invalid"
	policyMaxAgeInvalid    Code = "policy-max-age-invalid"
	policyMaxAgeTooLong    Code = "policy-max-age-too-long"
	policyMXInvalid        Code = "policy-mx-invalid"
	policyKeyMissing       Code = "policy-key-missing"
	policyModeNone         Code = "policy-mode-none"
	policyModeTesting      Code = "policy-mode-testing"
	policyMaxAgeShort      Code = "policy-max-age-short"
	policyMXIP             Code = "policy-mx-ip"
	policyMXUnused         Code = "policy-mx-unused"
	policyMixedLineEndings Code = "policy-mixed-line-endings"
	policyDuplicateKey     Code = "policy-duplicate-key"
	policyMXTrailingDot    Code = "policy-mx-trailing-dot"
	policyLarge            Code = "policy-large"
	policyModeNoneMX       Code = "policy-mode-none-mx"
	policyUnknownKey       Code = "policy-unknown-key"
	policyBlankLine        Code = "policy-blank-line"
	policyVersionNotFirst  Code = "policy-version-not-first"
	policyWarning          Code = "policy-warning"

	domainNotFound     Code = "domain-not-found"
	mxDNSError         Code = "mx-dns-error"
	mxNone             Code = "mx-none"
	mxNull             Code = "mx-null"
	mxNullMixed        Code = "mx-null-mixed"
	mxNotCovered       Code = "mx-not-covered"
	mxHostNoAddress    Code = "mx-host-no-address"
	mxHostDNSError     Code = "mx-host-dns-error"
	enforceBlocksMX    Code = "enforce-blocks-mx"
	mxNotPublic        Code = "mx-not-public"
	mxConnectFailed    Code = "mx-connect-failed"
	mxSMTPError        Code = "mx-smtp-error"
	mxSTARTTLSMissing  Code = "mx-starttls-missing"
	mxTLSFailed        Code = "mx-tls-failed"
	mxTLSVersion       Code = "mx-tls-version"
	mxTLSCipherWeak    Code = "mx-tls-cipher-weak"
	mxCertUntrusted    Code = "mx-cert-untrusted"
	mxCertNameMismatch Code = "mx-cert-name-mismatch"
	mxCertExpired      Code = "mx-cert-expired"
	mxCertExpiringSoon Code = "mx-cert-expiring-soon"
	mxCertExpiring     Code = "mx-cert-expiring"

	daneTLSAPublished       Code = "dane-tlsa-published"
	daneTLSAUnauthenticated Code = "dane-tlsa-unauthenticated"
	daneTLSAMismatch        Code = "dane-tlsa-mismatch"
	daneTLSADNSError        Code = "dane-tlsa-dns-error"

	tlsrptRecordMissing  Code = "tlsrpt-record-missing"
	tlsrptRecordMultiple Code = "tlsrpt-record-multiple"
	tlsrptRecordSyntax   Code = "tlsrpt-record-syntax"
	tlsrptRUAInvalid     Code = "tlsrpt-rua-invalid"
	tlsrptDNSError       Code = "tlsrpt-dns-error"
)

// catalogue defines every code, grouped by area in report order.
var catalogue = []Definition{
	// The _mta-sts TXT record.
	{stsRecordMissing, SeverityError, AreaRecord, "No TXT record at _mta-sts.<domain> begins with \"v=STSv1;\", so senders treat the domain as not using MTA-STS.", rfcRecord,
		"Publish one TXT record \"v=STSv1; id=<policy id>;\" at _mta-sts.<domain> (mtasts policy init prints it).", false},
	{stsRecordMultiple, SeverityError, AreaRecord, "Several TXT records at _mta-sts.<domain> begin with \"v=STSv1;\"; senders then ignore them all.", rfcRecord,
		"Delete all but one v=STSv1 record.", false},
	{stsRecordSyntax, SeverityError, AreaRecord, "The _mta-sts record does not follow the grammar of RFC 8461 §3.1 (for example \"v=STSv1\" is not the first field, or a field is malformed), so senders ignore it.", rfcRecord,
		"Rewrite the record as \"v=STSv1; id=<1 to 32 letters or digits>;\" with \"v=STSv1;\" first and fields separated by \";\".", false},
	{stsRecordIDMissing, SeverityError, AreaRecord, "The _mta-sts record has no id field, or an empty one; senders need it to notice policy changes.", rfcRecord,
		"Add \"id=<1 to 32 letters or digits>;\", for example a timestamp such as id=20240101T000000.", false},
	{stsRecordIDInvalid, SeverityError, AreaRecord, "The id of the _mta-sts record is not 1 to 32 letters or digits.", rfcRecord,
		"Use an id of 1 to 32 ASCII letters or digits only, such as 20240101T000000 without punctuation.", false},
	{stsRecordExtensionInvalid, SeverityError, AreaRecord, "An extension field of the _mta-sts record has a malformed name or value, which makes the whole record invalid.", rfcRecord,
		"Remove the extension field, or give it a name of letters, digits, \"_\", \"-\", \".\" and a value without \";\", \"=\" or spaces.", false},
	{stsRecordOtherTXT, SeverityInfo, AreaRecord, "_mta-sts.<domain> also holds TXT records that are not MTA-STS records; senders ignore them.", rfcRecord,
		"Nothing is required; move unrelated TXT records elsewhere to keep the name clean.", false},
	{stsRecordAtApex, SeverityError, AreaRecord, "The \"v=STSv1\" record was published at the domain itself instead of at _mta-sts.<domain>, where senders look.", rfcRecord,
		"Move the record from <domain> to _mta-sts.<domain>.", false},
	{stsRecordDNSError, SeverityError, AreaRecord, "The lookup of _mta-sts.<domain> failed temporarily (SERVFAIL, timeout, refused); this is not the absence of a record, and senders without a cached policy retry later.", rfcApply,
		"Fix the name servers of the domain so that they answer TXT queries for _mta-sts.<domain> (check DNSSEC signatures and delegation).", false},
	{resolverTimeout, SeverityWarning, AreaRecord, "The DNS resolver the check asked did not answer a lookup in time, even after retries: the check could not see this part of the domain, which says nothing about the domain (unlike an answer such as SERVFAIL, which is the domain's).", rfcApply,
		"Check again; when checking many domains, lower --concurrency (mtasts check -f lowers it by itself when timeouts rise) or use --resolver with a resolver that keeps up.", false},

	// The policy host.
	{policyHostDNSMissing, SeverityError, AreaPolicyHost, "mta-sts.<domain> has no address (A or AAAA record), so no sender can fetch the policy.", rfcFetch,
		"Publish A and/or AAAA records (or a CNAME) for mta-sts.<domain> pointing at the web server that serves the policy.", false},
	{policyHostDNSError, SeverityError, AreaPolicyHost, "Looking up the address of mta-sts.<domain> failed temporarily.", rfcFetch,
		"Fix the name servers so that they answer A and AAAA queries for mta-sts.<domain>.", false},
	{policyHostNotPublic, SeverityError, AreaPolicyHost, "mta-sts.<domain> resolves to a private, loopback or link-local address, which senders on the internet cannot reach; the check did not connect (--public-only).", rfcFetch,
		"Point mta-sts.<domain> at a public address of the web server.", false},
	{policyHostConnect, SeverityError, AreaPolicyHost, "No TCP connection to port 443 of mta-sts.<domain> could be made.", rfcFetch,
		"Make the web server listen on port 443 at every address of mta-sts.<domain> and open the firewall.", false},
	{policyHostTLS, SeverityError, AreaPolicyHost, "The TLS handshake with mta-sts.<domain> failed for a reason other than the certificate (no TLS on port 443, protocol version or cipher mismatch, SNI not handled).", rfcFetch,
		"Serve HTTPS with TLS 1.2 or newer on port 443 and answer the SNI name mta-sts.<domain>.", false},
	{policyCertUntrusted, SeverityError, AreaPolicyHost, "The certificate of mta-sts.<domain> does not chain to a trusted root (self-signed, unknown issuer, missing intermediate or otherwise invalid).", rfcFetch,
		"Install a certificate from a public CA, with its full chain of intermediates.", false},
	{policyCertNameMismatch, SeverityError, AreaPolicyHost, "The certificate of mta-sts.<domain> is not valid for that name (RFC 6125 DNS-ID).", rfcFetch,
		"Get a certificate whose subjectAltName includes mta-sts.<domain> (a wildcard *.<domain> also works).", false},
	{policyCertExpired, SeverityError, AreaPolicyHost, "The certificate of mta-sts.<domain> has expired or is not yet valid.", rfcFetch,
		"Renew the certificate and automate renewal (for example with ACME).", false},
	{policyCertExpiringSoon, SeverityWarning, AreaPolicyHost, "The certificate of mta-sts.<domain> expires within 14 days.", rfcFetch,
		"Renew the certificate now and check that automatic renewal works.", false},
	{policyCertExpiring, SeverityInfo, AreaPolicyHost, "The certificate of mta-sts.<domain> expires within 30 days.", rfcFetch,
		"Make sure the certificate will be renewed in time.", false},
	{policyHTTPStatus, SeverityError, AreaPolicyHost, "The policy URL answered with an HTTP status other than 200; senders accept only 200.", rfcFetch,
		"Serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt with status 200.", false},
	{policyRedirect, SeverityError, AreaPolicyHost, "The policy URL answered with a redirect; senders must not follow redirects, even to a valid policy.", rfcFetch,
		"Serve the policy directly at https://mta-sts.<domain>/.well-known/mta-sts.txt, without any redirect (also no http-to-https or trailing-slash rewrite).", false},
	{policyContentType, SeverityError, AreaPolicyHost, "The policy was served with a media type other than text/plain.", rfcFetch,
		"Serve mta-sts.txt with \"Content-Type: text/plain\" (a charset parameter is fine).", false},
	{policyTooLarge, SeverityError, AreaPolicyHost, "The policy body is larger than the 64 KiB senders read.", rfcFetch,
		"Serve only the policy file, a few hundred bytes, not an error page or another document.", false},
	{policyFetchTimeout, SeverityError, AreaPolicyHost, "Fetching the policy did not finish within the time limit.", rfcFetch,
		"Make the web server answer promptly; senders give up after about a minute, many sooner.", false},
	{policyFetchSlow, SeverityWarning, AreaPolicyHost, "Fetching the policy took longer than the slow-fetch threshold (5 seconds by default); senders with short timeouts may give up.", rfcFetch,
		"Serve the policy from a fast, close server or a CDN.", false},

	// The policy file.
	{policySyntax, SeverityError, AreaPolicy, "A line of the policy does not follow the \"key: value\" grammar (or the policy is empty), so senders reject the whole policy.", rfcPolicy,
		"Write one \"key: value\" per line, with no space before the key or the colon, lines ending in LF or CRLF.", false},
	{policyVersionInvalid, SeverityError, AreaPolicy, "The version line is not \"version: STSv1\".", rfcPolicy,
		"Write \"version: STSv1\" as the first line.", false},
	{policyModeInvalid, SeverityError, AreaPolicy, "The mode is not one of enforce, testing or none (modes are case-sensitive).", rfcPolicy,
		"Write \"mode: testing\" while rolling out, then \"mode: enforce\".", false},
	{policyMaxAgeInvalid, SeverityError, AreaPolicy, "max_age is not a number of seconds of 1 to 10 digits.", rfcPolicy,
		"Write max_age in seconds, for example \"max_age: 604800\" for one week.", false},
	{policyMaxAgeTooLong, SeverityError, AreaPolicy, "max_age exceeds 31557600 seconds (one year), the maximum.", rfcPolicy,
		"Use at most 31557600; 604800 (a week) to 1209600 (two weeks) is common.", false},
	{policyMXInvalid, SeverityError, AreaPolicy, "An mx line is not a host name or \"*.\" followed by a domain (A-labels only).", rfcPolicy,
		"List each MX host name, or \"*.\" and a domain for one label of wildcard, on its own mx line; write IDNs as xn-- A-labels.", false},
	{policyKeyMissing, SeverityError, AreaPolicy, "A required key (version, mode, max_age, or mx unless mode is none) is missing.", rfcPolicy,
		"Add the missing key; a complete policy has version, mode, max_age and one mx line per MX host.", false},
	{policyModeNone, SeverityWarning, AreaPolicy, "The policy is in mode none: senders act as if the domain had no policy.", rfcApply,
		"Use mode testing, then enforce, unless you are deliberately retiring MTA-STS.", false},
	{policyModeTesting, SeverityInfo, AreaPolicy, "The policy is in mode testing: senders deliver even when validation fails and only report it; the message says which MX hosts would fail under enforce.", rfcApply,
		"Once no MX host would fail and TLS reports are clean, switch to mode enforce and change the record id.", false},
	{policyMaxAgeShort, SeverityWarning, AreaPolicy, "max_age is short (below one day, or below one week in enforce mode), so the protection lapses quickly when an attacker blocks refreshes.", rfcPolicy,
		"Use weeks or more, for example 1209600 (two weeks).", false},
	{policyMXIP, SeverityWarning, AreaPolicy, "An mx pattern is an IP address; MX records name hosts, so it never matches.", rfcMatch,
		"Replace the address with the MX host name.", false},
	{policyMXUnused, SeverityInfo, AreaPolicy, "An mx pattern matches none of the domain's MX hosts.", rfcMatch,
		"Remove patterns left over from former mail servers, or check them for typos.", false},
	{policyMixedLineEndings, SeverityWarning, AreaPolicy, "Some policy lines end with CRLF and others with LF.", rfcPolicy,
		"Use one line ending style throughout the file.", false},
	{policyDuplicateKey, SeverityWarning, AreaPolicy, "A key other than mx appears more than once; the first occurrence wins.", rfcPolicy,
		"Keep one line per key (mx excepted).", false},
	{policyMXTrailingDot, SeverityWarning, AreaPolicy, "An mx pattern ends with a dot, which the grammar does not allow; strict senders reject the policy.", rfcPolicy,
		"Remove the trailing dot from the mx pattern.", false},
	{policyLarge, SeverityWarning, AreaPolicy, "The policy is larger than 4 KiB, far larger than policies need to be.", rfcFetch,
		"Keep the policy to the four keys and one mx line per pattern.", false},
	{policyModeNoneMX, SeverityInfo, AreaPolicy, "The policy is in mode none but lists mx patterns, which senders ignore.", rfcApply,
		"Nothing is required while retiring a policy; otherwise switch to testing or enforce.", false},
	{policyUnknownKey, SeverityWarning, AreaPolicy, "The policy has a key RFC 8461 does not define; senders ignore it, and it may be a typo.", rfcPolicy,
		"Correct the key if it is a typo of version, mode, max_age or mx, or remove it.", false},
	{policyBlankLine, SeverityWarning, AreaPolicy, "The policy has a blank line, which the grammar does not allow; strict senders reject it.", rfcPolicy,
		"Remove blank lines, including one at the end of the file.", false},
	{policyVersionNotFirst, SeverityWarning, AreaPolicy, "The first line of the policy is not the version line; some senders expect it first.", rfcPolicy,
		"Put \"version: STSv1\" on the first line.", false},
	{policyWarning, SeverityWarning, AreaPolicy, "The policy parser warned about something this version of the checker has no code of its own for; the message says what.", rfcPolicy,
		"Follow the message.", false},

	// The MX records.
	{domainNotFound, SeverityError, AreaMX, "The domain does not exist in the DNS (NXDOMAIN).", rfcMX,
		"Check the spelling of the domain, or register and delegate it.", false},
	{mxDNSError, SeverityError, AreaMX, "The MX lookup of the domain failed temporarily, so the MX hosts could not be checked.", rfcMX,
		"Fix the name servers so that they answer MX queries for the domain.", false},
	{mxNone, SeverityWarning, AreaMX, "The domain has no MX records; senders fall back to its own address (implicit MX), which MTA-STS policies rarely cover.", rfcMX,
		"Publish MX records naming your mail servers.", false},
	{mxNull, SeverityInfo, AreaMX, "The domain publishes a null MX: it accepts no mail, so it needs no MTA-STS policy.", rfcNullMX,
		"Nothing is required.", false},
	{mxNullMixed, SeverityError, AreaMX, "The domain publishes a null MX together with other MX records, which RFC 7505 forbids.", rfcNullMX,
		"Remove the null MX record \"0 .\" if the domain receives mail, or the other MX records if it does not.", false},
	{mxNotCovered, SeverityError, AreaMX, "An MX host name matches none of the policy's mx patterns, so senders enforcing the policy will not deliver to it.", rfcMatch,
		"Add an mx line for the host to the policy (and change the record id), or remove the MX record.", true},
	{mxHostNoAddress, SeverityError, AreaMX, "An MX host has no A or AAAA record, so no mail can be delivered through it.", rfcMX,
		"Publish addresses for the MX host, or remove the MX record.", false},
	{mxHostDNSError, SeverityError, AreaMX, "Looking up the addresses of an MX host failed temporarily.", rfcMX,
		"Fix the name servers of the MX host's zone.", false},
	{enforceBlocksMX, SeverityError, AreaMX, "The policy is in mode enforce and an MX host fails validation, so senders that honour MTA-STS will not deliver to it.", rfcApply,
		"Fix the MX host's problems listed above, or switch the policy to testing until they are fixed.", false},

	// Each MX host and address, on port 25.
	{mxNotPublic, SeverityError, AreaMXHost, "An MX host resolves to a private, loopback or link-local address, which senders on the internet cannot reach; the check did not connect (--public-only).", rfcMX,
		"Publish only public addresses for MX hosts.", false},
	{mxConnectFailed, SeverityError, AreaMXHost, "No TCP connection to port 25 of an MX address could be made (the network running the check may also block port 25; see --no-mx).", rfcMX,
		"Make the mail server listen on port 25 at every published address and open the firewall.", false},
	{mxSMTPError, SeverityError, AreaMXHost, "The MX answered port 25 but the SMTP greeting or EHLO failed.", rfcSTARTTLS,
		"Make the server greet with 220 and accept EHLO from any client.", false},
	{mxSTARTTLSMissing, SeverityError, AreaMXHost, "The MX does not offer STARTTLS, or refused it.", rfcSTARTTLS,
		"Enable STARTTLS on the mail server (for Postfix: smtpd_tls_security_level = may, with a certificate).", true},
	{mxTLSFailed, SeverityError, AreaMXHost, "The TLS handshake after STARTTLS failed.", rfcCert,
		"Check the server's TLS configuration: certificate and key files, protocol versions and cipher suites.", true},
	{mxTLSVersion, SeverityError, AreaMXHost, "The MX negotiated a TLS version older than 1.2.", rfcTLSVer,
		"Enable TLS 1.2 and 1.3 on the mail server.", true},
	{mxTLSCipherWeak, SeverityWarning, AreaMXHost, "The MX chose a cipher suite considered insecure (RC4, 3DES, or CBC with SHA-256 MAC).", rfcWeakTLS,
		"Prefer AEAD cipher suites (AES-GCM, ChaCha20-Poly1305) and disable RC4 and 3DES.", false},
	{mxCertUntrusted, SeverityError, AreaMXHost, "The MX certificate does not chain to a trusted root (self-signed, unknown issuer, missing intermediate or otherwise invalid).", rfcCert,
		"Install a certificate from a public CA, with its full chain of intermediates.", true},
	{mxCertNameMismatch, SeverityError, AreaMXHost, "The MX certificate is not valid for the MX host name (RFC 6125 DNS-ID).", rfcCert,
		"Get a certificate whose subjectAltName includes the MX host name exactly as the MX record names it.", true},
	{mxCertExpired, SeverityError, AreaMXHost, "The MX certificate has expired or is not yet valid.", rfcCert,
		"Renew the certificate and automate renewal, then reload the mail server.", true},
	{mxCertExpiringSoon, SeverityWarning, AreaMXHost, "The MX certificate expires within 14 days.", rfcCert,
		"Renew the certificate now and check that the mail server reloads it.", false},
	{mxCertExpiring, SeverityInfo, AreaMXHost, "The MX certificate expires within 30 days.", rfcCert,
		"Make sure the certificate will be renewed and the mail server reloaded in time.", false},

	// DANE.
	{daneTLSAPublished, SeverityInfo, AreaDANE, "The MX host has DNSSEC-authenticated TLSA records: senders that support DANE use them instead of MTA-STS for this host.", rfcDANE,
		"Nothing is required; keep the TLSA records in step with certificate renewals.", false},
	{daneTLSAUnauthenticated, SeverityInfo, AreaDANE, "The MX host has TLSA records but the answer was not DNSSEC-authenticated (AD bit clear), so DANE senders ignore them (or the resolver used does not validate).", rfcDANE,
		"Sign the zone with DNSSEC, or remove the TLSA records; check with a validating resolver.", false},
	{daneTLSAMismatch, SeverityError, AreaDANE, "None of the MX host's TLSA records matches the certificate the server presents, so DANE senders will not deliver.", rfcDANEMatch,
		"Publish TLSA records for the current certificate or key (for example 3 1 1 of the key) before deploying a new one.", false},
	{daneTLSADNSError, SeverityWarning, AreaDANE, "The TLSA lookup for the MX host failed temporarily; DANE senders defer mail when it does.", rfcDANE,
		"Fix the name servers (often a broken DNSSEC denial of existence) so TLSA queries get an answer.", false},

	// TLS-RPT.
	{tlsrptRecordMissing, SeverityWarning, AreaTLSRPT, "No TLS-RPT record at _smtp._tls.<domain>: you will not hear about TLS failures that senders see.", rfcTLSRPT,
		"Publish \"v=TLSRPTv1; rua=mailto:tlsrpt@<domain>\" at _smtp._tls.<domain>.", false},
	{tlsrptRecordMultiple, SeverityWarning, AreaTLSRPT, "Several TXT records at _smtp._tls.<domain> begin with v=TLSRPTv1; senders then send no reports.", rfcTLSRPT,
		"Keep one v=TLSRPTv1 record, listing every destination in its rua field.", false},
	{tlsrptRecordSyntax, SeverityWarning, AreaTLSRPT, "The TLS-RPT record does not follow the grammar of RFC 8460 §3.", rfcTLSRPT,
		"Write the record as \"v=TLSRPTv1; rua=<uri>[,<uri>]\".", false},
	{tlsrptRUAInvalid, SeverityWarning, AreaTLSRPT, "A rua destination of the TLS-RPT record is not a valid mailto: or https: URI.", rfcTLSRPT,
		"Use mailto:address or https://host/path URIs, separated by commas, with \",\", \";\" and \"!\" percent-encoded.", false},
	{tlsrptDNSError, SeverityWarning, AreaTLSRPT, "The lookup of _smtp._tls.<domain> failed temporarily.", rfcTLSRPT,
		"Fix the name servers so that they answer TXT queries for _smtp._tls.<domain>.", false},
}

// index maps each code to its position in the catalogue.
var index = func() map[Code]int {
	m := make(map[Code]int, len(catalogue))
	for i, d := range catalogue {
		if _, dup := m[d.Code]; dup {
			panic("check: duplicate code " + string(d.Code))
		}
		m[d.Code] = i
	}
	return m
}()

// lookup returns the definition of code.
func lookup(code Code) (Definition, bool) {
	i, ok := index[code]
	if !ok {
		return Definition{}, false
	}
	return catalogue[i], true
}

// Catalogue returns the definition of every finding code, grouped by area
// in report order. The slice is a copy.
func Catalogue() []Definition {
	return append([]Definition(nil), catalogue...)
}
