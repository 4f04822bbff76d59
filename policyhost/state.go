package policyhost

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StateFile is the name of the state file in the data directory.
const StateFile = "policies.json"

// DomainState is what State remembers of one domain.
type DomainState struct {
	// ID is the policy id to publish in the _mta-sts TXT record.
	ID string `json:"id"`
	// SHA256 is the hash of the policy text the id stands for.
	SHA256 string `json:"sha256"`
	// Changed is when the id last changed.
	Changed time.Time `json:"changed"`
	// Text is the policy text the id stands for.
	Text string `json:"text"`
	// AutoMX are the MX hosts the policy of an "mx auto" domain lists
	// for its live MX records; they are used when a lookup fails.
	AutoMX []string `json:"auto_mx,omitempty"`
	// Retiring are hosts of AutoMX no longer in the live MX records that
	// an enforce policy keeps listing until the time given, so that no
	// sender is cut off while old MX records are still cached.
	Retiring map[string]time.Time `json:"retiring,omitempty"`
}

// State keeps the policy id of each domain in a JSON file of the data
// directory. RFC 8461 §3.1: the id must change whenever the policy
// changes, so that senders fetch it anew; State gives a new id exactly when
// the rendered policy text changes, and keeps it across restarts. It is
// safe for concurrent use.
type State struct {
	path     string
	now      func() time.Time
	readOnly bool // see SetReadOnly
	held     bool // see Hold
	dirty    bool // changed while held

	mu      sync.Mutex
	domains map[string]DomainState
}

// OpenState reads the state file in dir, or starts an empty state if there
// is none. now is the clock for new ids (nil means time.Now).
func OpenState(dir string, now func() time.Time) (*State, error) {
	if now == nil {
		now = time.Now
	}
	s := &State{path: filepath.Join(dir, StateFile), now: now, domains: map[string]DomainState{}}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy state: %w", err)
	}
	if err := json.Unmarshal(data, &s.domains); err != nil {
		return nil, fmt.Errorf("policy state %s: %w", s.path, err)
	}
	return s, nil
}

// Get returns what is known of domain.
func (s *State) Get(domain string) (DomainState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domain]
	return d, ok
}

// SetReadOnly makes s keep what it assigns in memory only, never writing
// the file: for a process that reads the state of a data directory whose
// lock another process (a running serve) holds.
func (s *State) SetReadOnly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly = true
}

// Hold makes s keep what it assigns in memory until Commit, which writes
// it: a program that has more to open after the state (a store, its
// listeners) writes no policy id before it knows it can start.
func (s *State) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
}

// Commit ends Hold: it writes what s assigned since, if anything, and
// every later change. It does nothing for a state that is not held. On
// failure the state stays held.
func (s *State) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held {
		return nil
	}
	if s.dirty {
		if err := s.writeLocked(s.domains); err != nil {
			return err
		}
	}
	s.held, s.dirty = false, false
	return nil
}

// Assign returns the policy id for text, the policy of domain: the known id
// if the text is unchanged, else a new one, saved before it is returned.
// changed reports a new id.
func (s *State) Assign(domain string, text []byte) (id string, changed bool, err error) {
	sum := sha256.Sum256(text)
	hash := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.domains[domain]
	if ok && old.SHA256 == hash {
		return old.ID, false, nil
	}
	d := old
	d.ID, d.SHA256, d.Changed, d.Text = NewID(s.now(), old.ID), hash, s.now().UTC(), string(text)
	if err := s.saveLocked(domain, d); err != nil {
		return "", false, err
	}
	return d.ID, true, nil
}

// SetAutoMX records the MX hosts the policy of domain lists for its live
// MX records, and those of them kept until a time after they left DNS.
func (s *State) SetAutoMX(domain string, hosts []string, retiring map[string]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domains[domain]
	if slices.Equal(d.AutoMX, hosts) && maps.EqualFunc(d.Retiring, retiring, time.Time.Equal) {
		return nil
	}
	d.AutoMX, d.Retiring = slices.Clone(hosts), maps.Clone(retiring)
	return s.saveLocked(domain, d)
}

// NewID returns an id for a policy changed at t: its UTC time as 14 digits
// (RFC 8461 §3.1 allows 1 to 32 letters and digits), followed by a counter
// when the previous id ("" for none) is of the same second, so that an id
// is never handed out twice: a sender holding an old policy must never
// see its id come back.
func NewID(t time.Time, previous string) string {
	base := t.UTC().Format("20060102150405")
	rest, same := strings.CutPrefix(previous, base)
	if !same {
		return base
	}
	n, _ := strconv.Atoi(rest) // "" for the first id of the second: 0
	return base + strconv.Itoa(n+1)
}

// saveLocked stores d and, unless s is read-only or held, writes the file.
func (s *State) saveLocked(domain string, d DomainState) error {
	next := make(map[string]DomainState, len(s.domains)+1)
	for k, v := range s.domains {
		next[k] = v
	}
	next[domain] = d
	if s.readOnly || s.held {
		s.domains, s.dirty = next, s.held
		return nil
	}
	if err := s.writeLocked(next); err != nil {
		return err
	}
	s.domains = next
	return nil
}

// writeLocked writes domains to the file atomically (write, then rename).
func (s *State) writeLocked(domains map[string]DomainState) error {
	data, err := json.MarshalIndent(domains, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return fmt.Errorf("policy state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), StateFile+".*")
	if err != nil {
		return fmt.Errorf("policy state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("policy state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("policy state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("policy state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("policy state: %w", err)
	}
	return nil
}
