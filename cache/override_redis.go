package cache

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mtasts/mtasts/sts"
)

// The Redis backend keeps overrides as JSON in the hash <prefix>overrides
// (field: domain) and the last use of each domain in the sorted set
// <prefix>used (score: Unix milliseconds).

func (s *redisStore) overridesKey() string { return s.prefix + "overrides" }
func (s *redisStore) usedKey() string      { return s.prefix + "used" }

// redisOverride is the stored JSON form of an Override; times are Unix
// nanoseconds.
type redisOverride struct {
	Mode    sts.Mode `json:"mode"`
	Reason  string   `json:"reason"`
	Actor   string   `json:"actor"`
	Created int64    `json:"created"`
	Expires int64    `json:"expires"`
}

// PutOverride implements OverrideStore.
func (s *redisStore) PutOverride(ctx context.Context, o *Override) error {
	c, err := ValidateOverride(o)
	if err != nil {
		return err
	}
	data, err := json.Marshal(redisOverride{Mode: c.Mode, Reason: c.Reason, Actor: c.Actor, Created: unixNano(c.Created), Expires: unixNano(c.Expires)})
	if err != nil {
		return redisErr("put override", err)
	}
	if err := s.client.HSet(ctx, s.overridesKey(), c.Domain, data).Err(); err != nil {
		return redisErr("put override", err)
	}
	return nil
}

// DeleteOverride implements OverrideStore.
func (s *redisStore) DeleteOverride(ctx context.Context, domain string) error {
	data, err := s.client.HGet(ctx, s.overridesKey(), domain).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	case err != nil:
		return redisErr("delete override", err)
	}
	if err := s.client.HDel(ctx, s.overridesKey(), domain).Err(); err != nil {
		return redisErr("delete override", err)
	}
	if o, err := decodeOverride(domain, data); err != nil || o.Expired(s.now()) {
		return ErrNotFound
	}
	return nil
}

// decodeOverride decodes the stored override of domain.
func decodeOverride(domain string, data []byte) (*Override, error) {
	var r redisOverride
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &Override{Domain: domain, Mode: r.Mode, Reason: r.Reason, Actor: r.Actor,
		Created: fromUnixNano(r.Created), Expires: fromUnixNano(r.Expires)}, nil
}

// Overrides implements OverrideStore. It removes expired overrides, and
// any that cannot be decoded.
func (s *redisStore) Overrides(ctx context.Context) ([]*Override, error) {
	all, err := s.client.HGetAll(ctx, s.overridesKey()).Result()
	if err != nil {
		return nil, redisErr("overrides", err)
	}
	now := s.now()
	out := []*Override{}
	var gone []string
	for domain, data := range all {
		o, err := decodeOverride(domain, []byte(data))
		if err != nil || o.Expired(now) {
			gone = append(gone, domain)
			continue
		}
		out = append(out, o)
	}
	if len(gone) > 0 {
		if err := s.client.HDel(ctx, s.overridesKey(), gone...).Err(); err != nil {
			return nil, redisErr("overrides", err)
		}
	}
	return sortOverrides(out), nil
}

// MarkUsed implements UsageStore.
func (s *redisStore) MarkUsed(ctx context.Context, domain string, t time.Time) error {
	err := s.client.ZAddGT(ctx, s.usedKey(), redis.Z{Score: float64(t.UnixMilli()), Member: domain}).Err()
	if err != nil {
		return redisErr("mark used", err)
	}
	return nil
}

// LastUsed implements UsageStore.
func (s *redisStore) LastUsed(ctx context.Context, domains []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(domains))
	if len(domains) == 0 {
		return out, nil
	}
	scores, err := s.client.ZMScore(ctx, s.usedKey(), domains...).Result()
	if err != nil {
		return nil, redisErr("last used", err)
	}
	// ZMSCORE answers nil for a missing member, which go-redis reads as 0.
	for i, sc := range scores {
		if sc != 0 {
			out[domains[i]] = time.UnixMilli(int64(sc)).UTC()
		}
	}
	return out, nil
}

// ForgetUsed implements UsageStore.
func (s *redisStore) ForgetUsed(ctx context.Context, domain string) error {
	if err := s.client.ZRem(ctx, s.usedKey(), domain).Err(); err != nil {
		return redisErr("forget used", err)
	}
	return nil
}

// keys returns the keys that begin with s.prefix+kind.
func (s *redisStore) keys(ctx context.Context, kind string) ([]string, error) {
	var keys []string
	iter := s.client.Scan(ctx, 0, globEscape(s.prefix+kind)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// globEscape escapes the characters special in a Redis MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// List implements Lister.
func (s *redisStore) List(ctx context.Context) ([]*Entry, error) {
	keys, err := s.keys(ctx, "policy:")
	if err != nil {
		return nil, redisErr("list", err)
	}
	out := []*Entry{}
	now := s.now()
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 500)]
		keys = keys[len(batch):]
		values, err := s.client.MGet(ctx, batch...).Result()
		if err != nil {
			return nil, redisErr("list", err)
		}
		for i, v := range values {
			str, ok := v.(string)
			if !ok {
				continue // gone meanwhile
			}
			e, err := decodeEntry(strings.TrimPrefix(batch[i], s.prefix+"policy:"), []byte(str))
			if err != nil {
				return nil, redisErr("list", err)
			}
			if !e.Expired(now) {
				out = append(out, e)
			}
		}
	}
	return sortEntries(out), nil
}

// Purge implements Lister.
func (s *redisStore) Purge(ctx context.Context) (int, error) {
	live, err := s.List(ctx) // to count them by the cache's clock
	if err != nil {
		return 0, err
	}
	policies, err := s.keys(ctx, "policy:")
	if err != nil {
		return 0, redisErr("purge", err)
	}
	negatives, err := s.keys(ctx, "negative:")
	if err != nil {
		return 0, redisErr("purge", err)
	}
	all := append(append(policies, negatives...), s.refreshKey())
	for len(all) > 0 {
		batch := all[:min(len(all), 500)]
		all = all[len(batch):]
		if err := s.client.Unlink(ctx, batch...).Err(); err != nil {
			return 0, redisErr("purge", err)
		}
	}
	return len(live), nil
}
