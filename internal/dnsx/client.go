package dnsx

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults applied by New to a zero Config.
const (
	DefaultResolvConf = "/etc/resolv.conf"
	DefaultTimeout    = 2 * time.Second
	DefaultAttempts   = 3
)

// Config configures a Client. The zero value uses the name servers of
// /etc/resolv.conf with the default timeout and attempts.
type Config struct {
	// Servers are the name servers to ask, in order of preference, as an IP
	// address with an optional port: "192.0.2.1", "192.0.2.1:5353", "::1",
	// "[::1]:53". Empty means the nameserver lines of ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf file read when Servers is empty; default
	// DefaultResolvConf. Only its nameserver lines are used: names are always
	// absolute, and Timeout and Attempts come from this Config.
	ResolvConf string
	// Timeout bounds one exchange with one server; default DefaultTimeout.
	Timeout time.Duration
	// Attempts is how many times the whole server list is tried before a
	// query fails; default DefaultAttempts.
	Attempts int
	// Backoff, if set, is the wait before the second round of the server
	// list when no server answered the first in time, doubled before each
	// later round, with up to half of it added at random: a resolver that
	// drops queries under load gets time to catch up, and clients that
	// timed out together do not retry together. Zero retries at once.
	Backoff time.Duration
}

// Client is a DNS stub resolver. It is safe for concurrent use; create it
// with New or NewFromAddr.
type Client struct {
	servers  []string // "ip:port", ready to dial
	timeout  time.Duration
	attempts int
	backoff  time.Duration
}

// New returns a Client for cfg. It fails if a server address is invalid, or
// if Servers is empty and ResolvConf cannot be read or lists no name server.
func New(cfg Config) (*Client, error) {
	c := &Client{timeout: cfg.Timeout, attempts: cfg.Attempts, backoff: cfg.Backoff}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	servers, port := cfg.Servers, "53"
	if len(servers) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		rc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("dnsx: reading %s: %w", path, err)
		}
		if len(rc.Servers) == 0 {
			return nil, fmt.Errorf("dnsx: no nameserver in %s", path)
		}
		servers, port = rc.Servers, rc.Port
	}
	for _, s := range servers {
		addr, err := parseServer(s, port)
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, addr)
	}
	return c, nil
}

// NewFromAddr returns a Client that asks the single server addr ("127.0.0.1",
// "127.0.0.1:5353", "::1" or "[::1]:53"), or the system's name servers from
// /etc/resolv.conf when addr is empty. It suits a command-line flag.
func NewFromAddr(addr string) (*Client, error) {
	if strings.TrimSpace(addr) == "" {
		return New(Config{})
	}
	return New(Config{Servers: []string{addr}})
}

// Servers returns the addresses the Client asks, in order.
func (c *Client) Servers() []string {
	return append([]string(nil), c.servers...)
}

// parseServer turns a server address, an IP with an optional port, into
// "ip:port", using defaultPort when s has none.
func parseServer(s, defaultPort string) (string, error) {
	bad := func(reason string) error {
		return fmt.Errorf("dnsx: invalid DNS server address %q: %s (want an IP address with optional port, such as 192.0.2.1, 192.0.2.1:5353 or [2001:db8::1]:53)", s, reason)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", bad("empty")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if ip, err := netip.ParseAddr(host); err == nil && (host == s || "["+host+"]" == s) {
		port, err := strconv.ParseUint(defaultPort, 10, 16)
		if err != nil || port == 0 {
			return "", bad("invalid port " + strconv.Quote(defaultPort))
		}
		return netip.AddrPortFrom(ip, uint16(port)).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", bad(err.Error())
	}
	if ap.Port() == 0 {
		return "", bad("port 0")
	}
	return ap.String(), nil
}
