package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// DefaultPasswordCost is the bcrypt cost of HashPassword that makes a
// password check take a few hundred milliseconds: slow for guessing,
// quick enough for a login.
const DefaultPasswordCost = 12

// MaxPasswordBytes is what bcrypt reads of a password.
const MaxPasswordBytes = 72

// HashPassword returns the bcrypt hash of password at cost (at most
// bcrypt.MaxCost; each step doubles the work of a check), for the
// PasswordHash of a User. A password longer than MaxPasswordBytes is
// refused rather than cut.
func HashPassword(password string, cost int) (string, error) {
	switch {
	case password == "":
		return "", errors.New("no password given")
	case len(password) > MaxPasswordBytes:
		return "", fmt.Errorf("the password has %d bytes; bcrypt reads only %d", len(password), MaxPasswordBytes)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	return string(hash), nil
}

// NewToken returns a new access token for Auth.Tokens: 32 random bytes
// in unpadded base64url.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
