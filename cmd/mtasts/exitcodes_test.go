package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitResolverUnreachable checks the one exit-code table of the root
// help on every command that needs DNS: a resolver that gives no reply at
// all means the command could not run (3), never a verdict about the
// domain (such as tempfail, 2) or a warning (1).
func TestExitResolverUnreachable(t *testing.T) {
	w := fixedWorld(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close() // nothing listens: queries are refused at once
	config := serveConfig(t, w, "", "example.com")
	log := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "r.db")
	for _, args := range [][]string{
		{"check", "example.com"},
		{"policy", "fetch", "example.com"},
		{"policy", "records", "--config", config},
		{"query", "example.com"},
		{"promote", "--config", config, "--db", db, "example.com"},
		{"demote", "--config", config, "--db", db, "--to", "testing", "example.com"},
		{"tlsrpt", "collect", "--db", db, "--postfix-log", log},
	} {
		name := args[0]
		if !strings.HasPrefix(args[1], "-") {
			name += " " + args[1]
		}
		t.Run(name, func(t *testing.T) {
			r := runCmd(t, w, "", append(args, "--resolver", dead)...)
			if r.code != exitCannotRun || !strings.Contains(r.stderr, "does not answer") || !strings.Contains(r.stderr, dead) {
				t.Errorf("exit %d, want %d with the resolver named; stderr:\n%s", r.code, exitCannotRun, r.stderr)
			}
		})
	}
}
