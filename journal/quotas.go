package journal

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Client quotas (KIP-546): byte rates and request percentages per user,
// client id or both, as Kafka keeps them. They are cluster state, like
// topics: AlterClientQuotas commits a SetClientQuota command and every
// agent enforces what the journal holds.

// QuotaEntityPart is one component of a quota entity: a type (user,
// client-id, ip) and a name, or the type's default when Default is set.
type QuotaEntityPart struct {
	Type    string `json:"type"`
	Name    string `json:"name,omitempty"`
	Default bool   `json:"default,omitempty"`
}

// QuotaEntity is the entity a quota applies to: its parts, at most one of
// each type, in type order (see SortEntity).
type QuotaEntity []QuotaEntityPart

// SortEntity puts an entity's parts in type order, the form the state keys
// them by.
func SortEntity(e QuotaEntity) QuotaEntity {
	e = slices.Clone(e)
	slices.SortFunc(e, func(a, b QuotaEntityPart) int { return strings.Compare(a.Type, b.Type) })
	return e
}

// key is the entity's key in State.ClientQuotas.
func (e QuotaEntity) key() string {
	b, _ := json.Marshal(SortEntity(e)) // plain strings and bools: cannot fail
	return string(b)
}

// ClientQuota is one entity's quota values, by Kafka's keys
// (producer_byte_rate, consumer_byte_rate, request_percentage…).
type ClientQuota struct {
	Entity QuotaEntity        `json:"entity"`
	Values map[string]float64 `json:"values"`
}

// SetClientQuota sets and removes quota values of one entity; an entity
// left without values is forgotten. The agent validates the entity, keys
// and values before it proposes the command.
type SetClientQuota struct {
	Entity QuotaEntity        `json:"entity"`
	Set    map[string]float64 `json:"set,omitempty"`
	Remove []string           `json:"remove,omitempty"`
}

func (s *State) setClientQuota(c *SetClientQuota) Result {
	if len(c.Entity) == 0 {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	k := c.Entity.key()
	q := s.ClientQuotas[k]
	if q == nil {
		q = &ClientQuota{Entity: SortEntity(c.Entity), Values: map[string]float64{}}
	}
	for _, r := range c.Remove {
		delete(q.Values, r)
	}
	for name, v := range c.Set {
		q.Values[name] = v
	}
	if len(q.Values) == 0 {
		delete(s.ClientQuotas, k)
	} else {
		s.ClientQuotas[k] = q
	}
	return Result{}
}

// ClientQuota returns the quota values of exactly that entity, or nil.
func (s *State) ClientQuota(e QuotaEntity) map[string]float64 {
	if q := s.ClientQuotas[e.key()]; q != nil {
		return q.Values
	}
	return nil
}

// EachClientQuota calls fn for every entity with quotas, in key order.
func (s *State) EachClientQuota(fn func(ClientQuota)) {
	keys := make([]string, 0, len(s.ClientQuotas))
	for k := range s.ClientQuotas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fn(*s.ClientQuotas[k])
	}
}
