package sts

import (
	"errors"
	"strings"
	"testing"
)

// goodDomains are names NormalizeDomain accepts, with its result.
var goodDomains = []struct{ name, in, want string }{
	{"lower-cased", "Example.COM", "example.com"},
	{"trailing dot removed", "example.com.", "example.com"},
	{"single label", "localhost", "localhost"},
	{"RFC 5891: U-label to A-label", "bücher.example", "xn--bcher-kva.example"},
	{"UTS #46: upper-case U-label", "BÜCHER.example", "xn--bcher-kva.example"},
	{"UTS #46: NFC applied", "bu\u0308cher.example", "xn--bcher-kva.example"},
	{"RFC 5891: München", "münchen.de", "xn--mnchen-3ya.de"},
	{"RFC 5891: all non-ASCII", "例え.テスト", "xn--r8jz45g.xn--zckzah"},
	{"UTS #46: ideographic full stop", "例え。テスト", "xn--r8jz45g.xn--zckzah"},
	{"RFC 3492 §7.1 (A): Arabic", "ليهمابتكلموشعربي؟", "xn--egbpdaj6bu4bxfgehfvwxn"},
	{"UTS #46: full-width letters mapped", "ＭＸ.example", "mx.example"},
	{"RFC 3492 §7.1 (B): Chinese", "他们为什么不说中文.example", "xn--ihqwcrb4cv8a8dqg056pqjye.example"},
	{"RFC 3492 §7.1 (I): Russian, mapped to lower case", "ПочемужеонинеговорятпоРусски.example", "xn--b1abfaaepdrnnbgefbadotcwatmq2g4l.example"},
	{"A-label kept", "XN--BCHER-KVA.example", "xn--bcher-kva.example"},
	{"digits", "123.example", "123.example"},
	{"already normal", "mail.example.com", "mail.example.com"},
	{"inner hyphens", "a-b--c.ex-ample", "a-b--c.ex-ample"},
	{"all-digit last label", "example.123", "example.123"},
}

// badDomains are names NormalizeDomain refuses, with a word of the reason.
var badDomains = []struct{ name, in, reason string }{
	{"empty", "", "empty"},
	{"root", ".", "empty"},
	{"RFC 8461 §3.4: IPv4", "192.0.2.1", "IP address"},
	{"RFC 8461 §3.4: IPv6", "2001:db8::1", "IP address"},
	{"RFC 8461 §3.4: address literal", "[192.0.2.1]", "address literal"},
	{"empty label", "a..example", "is empty"},
	{"leading dot", ".example", "is empty"},
	{"underscore", "_mta-sts.example", `'_'`},
	{"hyphen at start", "-a.example", `"-"`},
	{"space", "a b.example", `' '`},
	{"RFC 1035 §2.3.4: label too long", strings.Repeat("a", 64) + ".example", "longer than 63"},
	{"RFC 1035 §2.3.4: name too long", strings.Repeat("a.", 127) + "aa", "longer than 253"},
	{"RFC 1035 §2.3.4: U-label too long", strings.Repeat("ü", 64) + ".example", "longer than 63"},
	{"invalid UTF-8", "\xff.example", "UTF-8"},
	{"UTS #46: disallowed code point", "a\ufffd.example", "disallowed"},
	{"RFC 5891: invalid A-label", "xn--zz.example", "invalid label"},
	{"RFC 5892: joiner out of context", "ex\u200dample.com", "invalid label"},
	{"UTS #46: hyphens in the third and fourth positions", "ab--c.example", "invalid label"},
	{"hyphen at end", "a-.example", `"-"`},
	{"hyphen at end of name", "example.a-", `"-"`},
}

func TestNormalizeDomain(t *testing.T) {
	for _, tc := range goodDomains {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeDomain(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, tc := range badDomains {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeDomain(tc.in)
			if err == nil {
				t.Fatalf("NormalizeDomain(%q) = %q, want error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidDomain) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("NormalizeDomain(%q) error = %v, want ErrInvalidDomain mentioning %q", tc.in, err, tc.reason)
			}
		})
	}
}
