package rollout

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mtasts/mtasts/reportstore"
)

// Actions recorded in the audit log.
const (
	ActionPromote = "promote"
	ActionDemote  = "demote"
)

// Audit records c in the audit log of store: action (ActionPromote or
// ActionDemote), who made it, whether it went against the verdict, and
// the verdict v with its evidence (nil if none was made). It returns the
// entry's id.
func Audit(ctx context.Context, store *reportstore.Store, c *Change, action, actor string, forced bool, v *Verdict) (int64, error) {
	e := &reportstore.AuditEntry{
		Actor: actor, Domain: c.Domain, Action: action, Forced: forced,
		OldID: c.Old.ID, NewID: c.New.ID, OldPolicy: c.Old.Text, NewPolicy: c.New.Text,
	}
	if v != nil {
		data, err := json.Marshal(v)
		if err != nil {
			return 0, fmt.Errorf("rollout: audit of %s: %w", c.Domain, err)
		}
		e.Verdict, e.Evidence = string(v.Status), data
	}
	id, err := store.AddAudit(ctx, e)
	if err != nil {
		return 0, fmt.Errorf("rollout: audit of %s: %w", c.Domain, err)
	}
	return id, nil
}
