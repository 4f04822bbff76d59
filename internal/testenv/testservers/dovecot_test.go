package testservers

import "testing"

func TestDovecot(t *testing.T) {
	d := StartDovecot(t)
	if err := imapGreeting(d.Addr); err != nil {
		t.Fatal(err)
	}
}
