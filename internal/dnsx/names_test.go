package dnsx

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	good := map[string]string{
		"example.com":             "example.com.",
		"Example.COM.":            "example.com.",
		"_mta-sts.example.com":    "_mta-sts.example.com.",
		"_smtp._tls.Example.com.": "_smtp._tls.example.com.",
		"bücher.example":          "xn--bcher-kva.example.",
		"BÜCHER.example":          "xn--bcher-kva.example.",
		"_mta-sts.münchen.de":     "_mta-sts.xn--mnchen-3ya.de.",
		"xn--bcher-kva.example":   "xn--bcher-kva.example.",
		"例え。テスト":                  "xn--r8jz45g.xn--zckzah.",
		".":                       ".",
		strings.Repeat("a", 63):   strings.Repeat("a", 63) + ".",
		"localhost":               "localhost.",
		"1.2.0.192.in-addr.arpa.": "1.2.0.192.in-addr.arpa.",
	}
	for in, want := range good {
		got, err := canonicalName(in)
		if err != nil || got != want {
			t.Errorf("canonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "..", "a..b", ".example", "example..",
		strings.Repeat("a", 64) + ".example",
		strings.Repeat("abcdefghi.", 26),
		"exa mple.com", "exa\\.mple.com", "a\x00b", "exa\"mple", "\xff.example",
		"-\u00e9.example", "\u00e9\u200d.example",
	}
	for _, in := range bad {
		if got, err := canonicalName(in); err == nil {
			t.Errorf("canonicalName(%q) = %q, want error", in, got)
		}
	}
}

// TestInvalidName checks that a name that cannot exist is not found, as in
// package net, and is not sent.
func TestInvalidName(t *testing.T) {
	d, c := newWorld(t)
	_, _, err := c.TXT(t.Context(), "exa mple.com")
	if !errors.Is(err, ErrInvalidName) || !errors.Is(err, ErrNXDomain) || !IsNotFound(err) || IsTemporary(err) {
		t.Errorf("err = %v, want invalid name", err)
	}
	if n := d.Queries("exa mple.com", 0); n != 0 {
		t.Errorf("server saw %d queries", n)
	}
}
