package web

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashPassword(t *testing.T) {
	hash, err := HashPassword("s3cret", bcrypt.MinCost)
	if err != nil || bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")) != nil {
		t.Fatalf("HashPassword = %q, %v", hash, err)
	}
	for in, want := range map[string]string{
		"":                                      "no password given",
		strings.Repeat("x", MaxPasswordBytes+1): "bcrypt reads only 72",
	} {
		if _, err := HashPassword(in, bcrypt.MinCost); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("HashPassword(%.10q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) != 43 || len(a) < minTokenLength || strings.ContainsAny(a, "+/=") {
		t.Errorf("tokens %q, %q", a, b)
	}
}
