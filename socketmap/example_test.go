package socketmap_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/mtasts/mtasts/socketmap"
)

// A server for the map "sts", as named in Postfix's
// smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:sts,
// and a client asking it.
func Example() {
	var mux socketmap.Mux
	mux.HandleFunc("sts", func(ctx context.Context, req socketmap.Request) socketmap.Reply {
		if req.Key == "example.com" {
			return socketmap.OK("secure match=mx1.example.com servername=hostname")
		}
		return socketmap.NotFound()
	})
	srv := &socketmap.Server{Handler: &mux}

	l, err := net.Listen("tcp", "127.0.0.1:0") // the daemon would use a fixed port
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	c, err := socketmap.Dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, key := range []string{"example.com", "example.org"} {
		r, err := c.Lookup(ctx, "sts", key)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q\n", key, r.String())
	}
	r, _ := c.Lookup(ctx, "other", "example.com")
	fmt.Printf("other: %q\n", r.String())
	// Output:
	// example.com: "OK secure match=mx1.example.com servername=hostname"
	// example.org: "NOTFOUND "
	// other: "PERM unknown map \"other\""
}
