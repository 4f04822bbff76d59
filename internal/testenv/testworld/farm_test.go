package testworld

import (
	"context"
	"crypto/tls"
	"io"
	"net/smtp"
	"strings"
	"testing"
)

// A farm serves many policy hosts and MX hosts from shared listeners,
// each with its own address, certificate (by SNI) and policy (by Host).
func TestFarm(t *testing.T) {
	w := New(t)
	f := w.NewFarm(FarmOptions{})
	domains := []string{"a.example", "b.example", "c.example"}
	for _, d := range domains {
		f.PolicyDomain(d, "version: STSv1\nmode: enforce\nmx: mx."+d+"\nmax_age: 86400\n")
		f.MXHost("mx." + d)
	}
	f.SetCert("mx.c.example", w.CA.Valid(t, "other.example"))

	client := w.HTTPClient()
	for _, d := range domains {
		resp, err := client.Get("https://mta-sts." + d + PolicyPath)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "mx: mx."+d) {
			t.Errorf("%s: status %d, body %q", d, resp.StatusCode, body)
		}
	}
	if w.HostIP("mta-sts.a.example").Equal(w.HostIP("mta-sts.b.example")) {
		t.Errorf("hosts share an address")
	}

	for _, tc := range []struct {
		host, certName string
	}{{"mx.a.example", "mx.a.example"}, {"mx.c.example", "other.example"}} {
		conn, err := w.DialContext(context.Background(), "tcp", tc.host+":25")
		if err != nil {
			t.Fatal(err)
		}
		c, err := smtp.NewClient(conn, tc.host)
		if err != nil {
			t.Fatal(err)
		}
		// The certificate is chosen by SNI; verification is not the point.
		if err := c.StartTLS(&tls.Config{ServerName: tc.host, InsecureSkipVerify: true}); err != nil {
			t.Fatalf("%s: STARTTLS: %v", tc.host, err)
		}
		state, _ := c.TLSConnectionState()
		if got := state.PeerCertificates[0].DNSNames[0]; got != tc.certName {
			t.Errorf("%s: certificate for %s, want %s", tc.host, got, tc.certName)
		}
		c.Quit()
	}
}
