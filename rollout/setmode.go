package rollout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/mtasts/mtasts/policyhost"
	"github.com/mtasts/mtasts/serve"
	"github.com/mtasts/mtasts/sts"
)

// ErrSameMode is the error of SetMode when the domain is already served
// in the mode asked for.
var ErrSameMode = errors.New("already in that mode")

// Change is a change of a served domain's mode made by SetMode.
type Change struct {
	Domain string `json:"domain"`
	// Old is the policy served before; New the policy served after. The
	// id of New is "" while Pending.
	Old ServedPolicy `json:"old"`
	New ServedPolicy `json:"new"`
	// Pending reports that a running "mtasts serve" holds the data
	// directory: it assigns the new id when it loads the changed file
	// (see WaitServed).
	Pending bool `json:"pending"`
	// RemovableAt is, for a change to mode none, when the policy host and
	// the records may be removed: the old max_age after the change (RFC
	// 8461 §8.3). Zero for other changes.
	RemovableAt time.Time `json:"removable_at,omitzero"`
}

// Record returns the _mta-sts TXT record to publish for the new policy
// (RFC 8461 §3.1) in zone-file form, or "" while its id is not known.
func (c *Change) Record() string {
	if c.New.ID == "" {
		return ""
	}
	return fmt.Sprintf("_mta-sts.%s. TXT \"v=STSv1; id=%s;\"", c.Domain, c.New.ID)
}

// SetMode serves domain, one of the [[domain]] sections of the
// configuration file at path, in mode from now on: it rewrites that
// section's mode key in place (see the package documentation) and, when
// no "mtasts serve" holds the data directory, assigns and saves the new
// policy id as serve would. Live MX hosts of mx auto domains are looked
// up with r. now is the clock (nil means time.Now).
func SetMode(ctx context.Context, path, domain string, mode sts.Mode, r policyhost.MXResolver, now func() time.Time) (*Change, error) {
	if now == nil {
		now = time.Now
	}
	domain, err := sts.NormalizeDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	cfg, err := serve.Parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	index, err := domainIndex(cfg, domain)
	if err != nil {
		return nil, err
	}
	if cfg.Domains[index].Mode == mode {
		return nil, fmt.Errorf("rollout: %s is %w (%s)", domain, ErrSameMode, mode)
	}
	// Ids are assigned and saved as serve would, under its lock; while a
	// serve holds it, nothing is written to the data directory.
	lock, err := policyhost.LockDataDir(cfg.DataDir)
	serving := errors.Is(err, policyhost.ErrDataDirLocked)
	if err != nil && !serving {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	defer lock.Release()
	state, err := policyhost.OpenState(cfg.DataDir, now)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	if serving {
		state.SetReadOnly()
	}
	old, err := served(ctx, cfg, domain, state, r)
	if err != nil {
		return nil, err
	}

	next, err := rewriteMode(data, index, mode)
	if err != nil {
		return nil, fmt.Errorf("rollout: %s: %w", path, err)
	}
	nextCfg, err := serve.Parse(path, next)
	if err != nil {
		return nil, fmt.Errorf("rollout: %s: the rewritten file does not load, left unchanged: %w", path, err)
	}
	if err := sameButMode(cfg, nextCfg, index, mode); err != nil {
		return nil, fmt.Errorf("rollout: %s: left unchanged: %w", path, err)
	}
	if err := replaceFile(path, next); err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	c := &Change{Domain: domain, Old: old, Pending: serving}
	if c.New, err = served(ctx, nextCfg, domain, state, r); err != nil {
		return nil, err
	}
	if serving {
		c.New.ID = "" // what state assigned in memory is not what serve will
	}
	if mode == sts.ModeNone {
		c.RemovableAt = now().UTC().Add(time.Duration(old.MaxAge) * time.Second)
	}
	return c, nil
}

// sameButMode checks that next is cur with the mode of domain index set
// to mode and nothing else changed.
func sameButMode(cur, next *serve.Config, index int, mode sts.Mode) error {
	if next.Domains[index].Mode != mode {
		return fmt.Errorf("the rewritten file gives %s mode %q", next.Domains[index].Domain, next.Domains[index].Mode)
	}
	want := cur.Config
	want.Domains = append([]policyhost.DomainConfig(nil), cur.Domains...)
	want.Domains[index].Mode = mode
	if !reflect.DeepEqual(want, next.Config) {
		return errors.New("the rewritten file changes more than the mode")
	}
	return nil
}

// replaceFile writes data over the file at path atomically (a new file,
// then rename), keeping its permissions, owner and group.
func replaceFile(path string, data []byte) error {
	// A symbolic link stays one: the file it points to is replaced.
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(fi.Mode().Perm())
	if err == nil {
		err = keepOwner(tmp, fi)
	}
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WaitServed waits until the running server of dataDir has given text,
// the policy of domain, its id, reading the state file every poll, and
// returns the id. It ends with ctx.
func WaitServed(ctx context.Context, dataDir, domain, text string, poll time.Duration) (string, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		state, err := policyhost.OpenState(dataDir, nil)
		if err != nil {
			return "", fmt.Errorf("rollout: %w", err)
		}
		if d, ok := state.Get(domain); ok && d.Text == text {
			return d.ID, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("rollout: waiting for mtasts serve to load the new policy of %s: %w", domain, ctx.Err())
		case <-t.C:
		}
	}
}
