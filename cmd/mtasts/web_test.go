package main

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestWebHashPassword(t *testing.T) {
	r := runCmd(t, nil, "s3cret password\r\nignored\n", "web", "hash-password", "--cost", "10")
	hash := strings.TrimSpace(r.stdout)
	if r.code != 0 || bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret password")) != nil {
		t.Fatalf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != 10 {
		t.Errorf("cost %d", cost)
	}

	r = runCmd(t, nil, "pw", "web", "hash-password", "--json", "--cost", "10")
	var out struct {
		Hash string `json:"password_hash"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || bcrypt.CompareHashAndPassword([]byte(out.Hash), []byte("pw")) != nil {
		t.Errorf("--json: %q, %v", r.stdout, err)
	}

	for _, c := range []struct{ stdin, arg, want string }{
		{"", "10", "no password given"},
		{"\n", "10", "no password given"},
		{strings.Repeat("x", 73), "10", "bcrypt reads only 72"},
		{"pw", "4", "--cost 4"},
	} {
		r := runCmd(t, nil, c.stdin, "web", "hash-password", "--cost", c.arg)
		if r.code != exitCannotRun || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("stdin %q, cost %s: code %d, stdout %q, stderr %q", c.stdin, c.arg, r.code, r.stdout, r.stderr)
		}
	}
}

func TestWebToken(t *testing.T) {
	a, b := runCmd(t, nil, "", "web", "token"), runCmd(t, nil, "", "web", "token", "--json")
	var out struct{ Token string }
	if err := json.Unmarshal([]byte(b.stdout), &out); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(a.stdout)
	if a.code != 0 || len(tok) != 43 || len(out.Token) != 43 || tok == out.Token || strings.ContainsAny(tok, "+/= ") {
		t.Errorf("tokens %q and %q", tok, out.Token)
	}
}
