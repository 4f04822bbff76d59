package socketmap

import (
	"errors"
	"testing"
)

// FuzzParseReply checks that ParseReply never panics, that its errors are
// *ProtocolError wrapping ErrSyntax, and that an accepted reply survives
// a round trip through String.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"OK secure match=mx.example.com",
		"NOTFOUND ",
		"NOTFOUND",
		"TEMP try again",
		"TIMEOUT ",
		"PERM no such map",
		"ok lower case",
		"",
		"OK",
		"OK \x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := ParseReply(payload)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("%q: error %v (%T) is not a *ProtocolError wrapping ErrSyntax", payload, err, err)
			}
			return
		}
		if !r.Status.Valid() {
			t.Fatalf("%q: accepted with status %q", payload, r.Status)
		}
		r2, err := ParseReply([]byte(r.String()))
		if err != nil || r2 != r {
			t.Errorf("%q: %+v printed as %q, read back as %+v, %v", payload, r, r.String(), r2, err)
		}
	})
}
