package enforce

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/mtasts/mtasts/socketmap"
)

// listenAddr is one --listen value: "HOST:PORT" for TCP or "unix:/path"
// for a UNIX-domain socket.
type listenAddr struct {
	network, addr string
}

func (a listenAddr) String() string {
	if a.network == "unix" {
		return "unix:" + a.addr
	}
	return a.addr
}

// parseListenAddr parses a --listen value.
func parseListenAddr(s string) (listenAddr, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return listenAddr{}, fmt.Errorf("listen address %q: empty socket path", s)
		}
		return listenAddr{"unix", path}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return listenAddr{}, fmt.Errorf("listen address %q: want HOST:PORT or unix:/path: %w", s, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return listenAddr{}, fmt.Errorf("listen address %q: bad port %q", s, port)
	}
	return listenAddr{"tcp", net.JoinHostPort(host, port)}, nil
}

// listen opens the listener of a with socketmap.Listen (which replaces a
// stale socket file) and, for a UNIX socket, sets the file mode unless
// mode is zero.
func (a listenAddr) listen(mode fs.FileMode) (net.Listener, error) {
	l, err := socketmap.Listen(a.network, a.addr)
	if err != nil {
		return nil, err
	}
	if a.network == "unix" && mode != 0 {
		if err := os.Chmod(a.addr, mode); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}
