package enforce

import (
	"errors"
	"fmt"
	"net"

	"github.com/mtasts/mtasts/socketmap"
)

// listenExim opens the exim_listen sockets of cfg (see EximAnswer).
func (s *Service) listenExim(cfg *Config) error {
	for _, a := range cfg.EximListen {
		addr, _ := parseListenAddr(a) // checked by Validate
		l, err := addr.listen(cfg.socketMode)
		if err != nil {
			return fmt.Errorf("cannot listen for Exim on %s: %w", a, err)
		}
		s.eximListeners = append(s.eximListeners, l)
	}
	return nil
}

// serveExim answers Exim on the sockets opened by listenExim until the
// shutdown; a listener that fails is sent to failed.
func (s *Service) serveExim(failed chan<- error) {
	for _, l := range s.eximListeners {
		go func() {
			if err := s.exim.Serve(l); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				failed <- fmt.Errorf("serving Exim on %s: %w", l.Addr(), err)
			}
		}()
		s.log.Info("listening for Exim", "addr", listenerName(l))
	}
}

// EximAddrs returns the addresses of the exim_listen sockets, in the
// order of the configuration, once Listen has opened them.
func (s *Service) EximAddrs() []net.Addr {
	addrs := make([]net.Addr, len(s.eximListeners))
	for i, l := range s.eximListeners {
		addrs[i] = l.Addr()
	}
	return addrs
}
