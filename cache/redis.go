package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mtasts/mtasts/sts"
)

// DefaultRedisPrefix begins the name of every key the Redis backend uses.
const DefaultRedisPrefix = "mtasts:"

// redisStore keeps each entry as a JSON string under
// <prefix>policy:<domain> or <prefix>negative:<domain>, with a time to live
// that ends when the entry expires, and the refresh times of policies in
// the sorted set <prefix>refresh (score: RefreshAt in Unix milliseconds).
type redisStore struct {
	client *redis.Client
	prefix string
	now    func() time.Time
}

// redisEntry and redisNegative are the stored JSON forms; times are Unix
// nanoseconds.
type redisEntry struct {
	ID        string `json:"id"`
	Text      string `json:"policy"`
	Fetched   int64  `json:"fetched"`
	Expires   int64  `json:"expires"`
	Checked   int64  `json:"checked"`
	RefreshAt int64  `json:"refresh_at"`
}

type redisNegative struct {
	Kind    NegativeKind `json:"kind"`
	ID      string       `json:"id,omitempty"`
	Reason  string       `json:"reason"`
	Created int64        `json:"created"`
	Expires int64        `json:"expires"`
}

func (s *redisStore) policyKey(domain string) string   { return s.prefix + "policy:" + domain }
func (s *redisStore) negativeKey(domain string) string { return s.prefix + "negative:" + domain }
func (s *redisStore) refreshKey() string               { return s.prefix + "refresh" }

func redisErr(op string, err error) error { return fmt.Errorf("cache: redis: %s: %w", op, err) }

// ttl returns the time to live of something that expires at t, and
// whether it is still alive.
func (s *redisStore) ttl(t time.Time) (time.Duration, bool) {
	d := t.Sub(s.now())
	return d, d > 0
}

// decodeEntry decodes a stored policy entry of domain.
func decodeEntry(domain string, data []byte) (*Entry, error) {
	var r redisEntry
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("stored entry of %s: %w", domain, err)
	}
	p, err := sts.ParsePolicy([]byte(r.Text))
	if err != nil {
		return nil, fmt.Errorf("stored policy of %s: %w", domain, err)
	}
	return &Entry{
		Domain: domain, ID: r.ID, Text: r.Text, Policy: p,
		Fetched: fromUnixNano(r.Fetched), Expires: fromUnixNano(r.Expires),
		Checked: fromUnixNano(r.Checked), RefreshAt: fromUnixNano(r.RefreshAt),
	}, nil
}

// Get implements Cache.
func (s *redisStore) Get(ctx context.Context, domain string) (*Entry, error) {
	data, err := s.load(ctx, "get", s.policyKey(domain))
	if err != nil {
		return nil, err
	}
	e, err := decodeEntry(domain, data)
	if err != nil {
		return nil, redisErr("get", err)
	}
	if e.Expired(s.now()) {
		return nil, ErrNotFound
	}
	return e, nil
}

// load returns the value at key, or ErrNotFound.
func (s *redisStore) load(ctx context.Context, op, key string) ([]byte, error) {
	data, err := s.client.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, redisErr(op, err)
	}
	return data, nil
}

// Put implements Cache.
func (s *redisStore) Put(ctx context.Context, e *Entry) error {
	c, err := prepare(e)
	if err != nil {
		return err
	}
	ttl, alive := s.ttl(c.Expires)
	if !alive {
		return s.Delete(ctx, c.Domain)
	}
	data, err := json.Marshal(redisEntry{
		ID: c.ID, Text: c.Text, Fetched: unixNano(c.Fetched), Expires: unixNano(c.Expires),
		Checked: unixNano(c.Checked), RefreshAt: unixNano(c.RefreshAt),
	})
	if err != nil {
		return redisErr("put", err)
	}
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.policyKey(c.Domain), data, ttl)
		if c.RefreshAt.IsZero() {
			p.ZRem(ctx, s.refreshKey(), c.Domain)
		} else {
			p.ZAdd(ctx, s.refreshKey(), redis.Z{Score: float64(c.RefreshAt.UnixMilli()), Member: c.Domain})
		}
		return nil
	})
	if err != nil {
		return redisErr("put", err)
	}
	return nil
}

// Delete implements Cache.
func (s *redisStore) Delete(ctx context.Context, domain string) error {
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.policyKey(domain))
		p.ZRem(ctx, s.refreshKey(), domain)
		return nil
	})
	if err != nil {
		return redisErr("delete", err)
	}
	return nil
}

// GetNegative implements Cache.
func (s *redisStore) GetNegative(ctx context.Context, domain string) (*Negative, error) {
	data, err := s.load(ctx, "get negative", s.negativeKey(domain))
	if err != nil {
		return nil, err
	}
	var r redisNegative
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, redisErr("get negative", fmt.Errorf("stored entry of %s: %w", domain, err))
	}
	n := &Negative{Domain: domain, Kind: r.Kind, ID: r.ID, Reason: r.Reason, Created: fromUnixNano(r.Created), Expires: fromUnixNano(r.Expires)}
	if n.Expired(s.now()) {
		return nil, ErrNotFound
	}
	return n, nil
}

// PutNegative implements Cache.
func (s *redisStore) PutNegative(ctx context.Context, n *Negative) error {
	c, err := prepareNegative(n)
	if err != nil {
		return err
	}
	ttl, alive := s.ttl(c.Expires)
	if !alive {
		return s.DeleteNegative(ctx, c.Domain)
	}
	data, err := json.Marshal(redisNegative{Kind: c.Kind, ID: c.ID, Reason: c.Reason, Created: unixNano(c.Created), Expires: unixNano(c.Expires)})
	if err != nil {
		return redisErr("put negative", err)
	}
	if err := s.client.Set(ctx, s.negativeKey(c.Domain), data, ttl).Err(); err != nil {
		return redisErr("put negative", err)
	}
	return nil
}

// DeleteNegative implements Cache.
func (s *redisStore) DeleteNegative(ctx context.Context, domain string) error {
	if err := s.client.Del(ctx, s.negativeKey(domain)).Err(); err != nil {
		return redisErr("delete negative", err)
	}
	return nil
}

// Due implements Cache. Domains in the refresh set whose entry has expired
// are removed from the set.
func (s *redisStore) Due(ctx context.Context, before time.Time, limit int) ([]*Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	domains, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.refreshKey(), Start: "-inf", Stop: strconv.FormatInt(before.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, redisErr("due", err)
	}
	if len(domains) == 0 {
		return nil, nil
	}
	keys := make([]string, len(domains))
	for i, d := range domains {
		keys[i] = s.policyKey(d)
	}
	values, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, redisErr("due", err)
	}
	var out []*Entry
	var gone []any
	now := s.now()
	for i, v := range values {
		str, ok := v.(string)
		if !ok {
			gone = append(gone, domains[i])
			continue
		}
		e, err := decodeEntry(domains[i], []byte(str))
		if err != nil {
			return nil, redisErr("due", err)
		}
		if e.Expired(now) || e.RefreshAt.After(before) {
			continue
		}
		out = append(out, e)
	}
	if len(gone) > 0 {
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, s.refreshKey(), gone...)
			p.ZRem(ctx, s.usedKey(), gone...) // see UsageStore
			return nil
		})
		if err != nil {
			return nil, redisErr("due", err)
		}
	}
	return out, nil
}

// Ping checks that the server answers.
func (s *redisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}

// Close implements Cache.
func (s *redisStore) Close() error { return s.client.Close() }
