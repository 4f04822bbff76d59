package enforce

import "testing"

// FuzzParsePostfixVersion: a version that parses prints as one that
// parses to the same release.
func FuzzParsePostfixVersion(f *testing.F) {
	for _, s := range []string{"3.7", "3.10.5", "2.10", "3", "3.x", "03.7", "3.7.1.2", "", "999.999.999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePostfixVersion(s)
		if err != nil {
			return
		}
		w, err := ParsePostfixVersion(v.String())
		if err != nil || w != v {
			t.Fatalf("%q → %v → %v, %v", s, v, w, err)
		}
	})
}
