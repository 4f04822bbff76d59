package web

import "github.com/mtasts/mtasts/tlsrpt"

// explanation says in plain words what a result type of RFC 8460 §4.3
// means for the receiving domain, and what its administrator can do.
type explanation struct {
	Title   string // a few words
	Meaning string // what happened
	Fix     string // what to do about it
	Section string // where RFC 8460 defines it
}

// explanations covers every result type registered by RFC 8460 §4.3.
var explanations = map[tlsrpt.ResultType]explanation{
	tlsrpt.ResultSTARTTLSNotSupported: {
		Title:   "Your MX did not offer STARTTLS",
		Meaning: "The sender connected to your mail server, but its EHLO answer did not list STARTTLS, so no encrypted session was possible.",
		Fix: "Enable STARTTLS with a certificate on every MX host of the policy (Postfix: smtpd_tls_security_level = may with smtpd_tls_chain_files; Exim: tls_advertise_hosts = *). " +
			"If it is enabled, look for a firewall or \"SMTP inspection\" feature on the way that strips STARTTLS, and for an MX that points at a server without TLS. " +
			"`mtasts check DOMAIN` connects to each MX as a sender does.",
		Section: "RFC 8460 §4.3.1",
	},
	tlsrpt.ResultCertificateHostMismatch: {
		Title:   "The certificate does not name the MX host",
		Meaning: "Your server presented a certificate whose names (subjectAltName) do not include the MX host name the sender connected to.",
		Fix: "Issue a certificate that lists every MX host name exactly as it appears in your MX records and in the mx: lines of the MTA-STS policy. " +
			"A wildcard covers one label only (*.example.com covers mx1.example.com, not mx1.eu.example.com). " +
			"When one server answers for several MX names, put all of them in its certificate.",
		Section: "RFC 8460 §4.3.1",
	},
	tlsrpt.ResultCertificateNotTrusted: {
		Title:   "The certificate is not trusted",
		Meaning: "The certificate chain did not lead to a certification authority the sender trusts: it is self-signed, from a private CA, or the server did not send its intermediate certificates.",
		Fix: "Use a certificate from a public CA (Let's Encrypt will do) and make the server send the full chain: the certificate followed by its intermediates " +
			"(Postfix: one smtpd_tls_chain_files file with key, certificate and intermediates). " +
			"`openssl s_client -starttls smtp -connect MX:25 -showcerts` shows what the server sends.",
		Section: "RFC 8460 §4.3.1",
	},
	tlsrpt.ResultCertificateExpired: {
		Title:   "The certificate has expired",
		Meaning: "Your server presented a certificate that had expired (or was not yet valid) at the time of the session.",
		Fix: "Renew the certificate and reload the mail server. Automatic renewal often replaces the file while the mail server goes on serving the old certificate until it is reloaded: " +
			"add a deploy hook that reloads it, and watch the expiry date of every MX.",
		Section: "RFC 8460 §4.3.1",
	},
	tlsrpt.ResultValidationFailure: {
		Title:   "The session failed for another reason",
		Meaning: "A catch-all: the TLS session could not be established or validated for a reason the other types do not cover, such as a handshake failure, no common protocol version or cipher, or a reason the sender did not name.",
		Fix: "Read the reason codes and additional information below: they are the sender's own words. " +
			"Check that every MX offers TLS 1.2 or newer with current ciphers and a key the sender accepts (RSA of 2048 bits or more, or ECDSA), and test the handshake with `mtasts check DOMAIN`.",
		Section: "RFC 8460 §4.3.1, §4.3.3",
	},
	tlsrpt.ResultTLSAInvalid: {
		Title:   "The TLSA records do not match",
		Meaning: "The sender validated your MX with DANE, and none of the MX's TLSA records matched the certificate or key it presented, or the records were malformed.",
		Fix: "Publish TLSA records made from the certificate or key the server really uses; \"3 1 1\" records pin the public key and survive renewals that keep the key. " +
			"When changing keys, publish the new record first, wait for the old one's TTL, then switch the key, and remove the old record only afterwards.",
		Section: "RFC 8460 §4.3.2",
	},
	tlsrpt.ResultDNSSECInvalid: {
		Title:   "DNSSEC validation failed",
		Meaning: "The sender could not validate the DNSSEC signatures of your domain, its MX or its TLSA records: signatures expired, keys do not match the DS record at the parent, or the chain of trust is broken.",
		Fix:     "Check the zone with a DNSSEC analyser (such as DNSViz), re-sign it, make sure the DS record at the registrar matches the current key-signing key, and automate signing so that signatures never expire.",
		Section: "RFC 8460 §4.3.2",
	},
	tlsrpt.ResultDANERequired: {
		Title:   "DANE was required but not usable",
		Meaning: "The sender requires DANE for your domain, but found no usable, DNSSEC-signed TLSA records for the MX host.",
		Fix:     "Publish DNSSEC-signed TLSA records at _25._tcp.MXHOST for every MX host, and check that the MX names themselves are in signed zones.",
		Section: "RFC 8460 §4.3.2",
	},
	tlsrpt.ResultSTSPolicyFetchError: {
		Title:   "The MTA-STS policy could not be fetched",
		Meaning: "The sender found your _mta-sts TXT record but could not fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt: the name did not resolve, the connection failed or timed out, or the answer was not status 200 (redirects do not count).",
		Fix: "Make sure mta-sts.DOMAIN resolves from the internet and answers HTTPS on port 443 with status 200 and no redirect. " +
			"`mtasts check DOMAIN` fetches the policy the way senders do. If you have given up MTA-STS, publish mode: none for a while before removing the TXT record.",
		Section: "RFC 8460 §4.3.2",
	},
	tlsrpt.ResultSTSPolicyInvalid: {
		Title:   "The MTA-STS policy is invalid",
		Meaning: "The policy was fetched but could not be used: a missing or wrong version, mode, mx or max_age line, a wrong media type, or a syntax error.",
		Fix: "Check the policy with `mtasts policy lint`: it must be text/plain with version: STSv1, a mode, at least one mx line and a max_age. " +
			"After fixing it, change the id in the _mta-sts TXT record so that senders fetch it again.",
		Section: "RFC 8460 §4.3.2",
	},
	tlsrpt.ResultSTSWebPKIInvalid: {
		Title:   "The policy host's certificate is not valid",
		Meaning: "The HTTPS certificate of mta-sts.DOMAIN was not trusted, had expired, or did not name mta-sts.DOMAIN, so the policy could not be fetched securely.",
		Fix:     "Serve mta-sts.DOMAIN with a publicly trusted certificate that names it, with its full chain, and renew it in time: `mtasts serve` can obtain one by ACME and warns before expiry.",
		Section: "RFC 8460 §4.3.2",
	},
}

// unknownResult explains a result type that is not registered.
var unknownResult = explanation{
	Title:   "A result type of the sender's own",
	Meaning: "The sender reported a result type that RFC 8460 does not register. mtasts keeps it as received.",
	Fix:     "Read the reason codes and additional information of the failing reports, and the sender's documentation.",
	Section: "RFC 8460 §4.3",
}

// explain returns the explanation of a result type.
func explain(rt string) explanation {
	if e, ok := explanations[tlsrpt.ResultType(rt)]; ok {
		return e
	}
	return unknownResult
}
