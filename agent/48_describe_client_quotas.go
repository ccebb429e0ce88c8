package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeClientQuotas (key 48), versions 0-1.
//
// Behavior: lists the quotas the journal holds (AlterClientQuotas) of the
// entities that match every component of the filter: an exact name, the
// type's default, or any entity of the type; with Strict, an entity must
// have no other types. A filter naming an unknown entity type or a type
// twice, or an exact match without a name, is INVALID_REQUEST. v1 differs
// only in encoding.
//
// With the authorizer on, it needs DESCRIBE_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED), as Kafka.
func handleDescribeClientQuotas(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !c.authorizedCluster(acl.OpDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	seen := map[string]bool{}
	for _, comp := range r.Components {
		msg := ""
		switch {
		case !quotaEntityTypes[comp.EntityType]:
			msg = "unknown quota entity type " + comp.EntityType
		case seen[comp.EntityType]:
			msg = "entity type " + comp.EntityType + " named twice"
		case comp.MatchType == kmsg.QuotasMatchTypeExact && comp.Match == nil:
			msg = "an exact match needs a name"
		case comp.MatchType > kmsg.QuotasMatchTypeAny || comp.MatchType < kmsg.QuotasMatchTypeExact:
			msg = "unknown match type"
		}
		if msg != "" {
			resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
			return reply{resp: resp}
		}
		seen[comp.EntityType] = true
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{} // null means an error to the Java client
	c.a.journal.View(func(s *journal.State) {
		s.EachClientQuota(func(q journal.ClientQuota) {
			if !quotaMatches(q.Entity, r.Components, r.Strict) {
				return
			}
			e := kmsg.NewDescribeClientQuotasResponseEntry()
			for _, p := range q.Entity {
				ep := kmsg.NewDescribeClientQuotasResponseEntryEntity()
				ep.Type = p.Type
				if !p.Default {
					name := p.Name
					ep.Name = &name
				}
				e.Entity = append(e.Entity, ep)
			}
			for _, k := range sortedKeys(q.Values) {
				v := kmsg.NewDescribeClientQuotasResponseEntryValue()
				v.Key, v.Value = k, q.Values[k]
				e.Values = append(e.Values, v)
			}
			resp.Entries = append(resp.Entries, e)
		})
	})
	return reply{resp: resp}
}

// quotaMatches reports whether an entity matches a DescribeClientQuotas
// filter.
func quotaMatches(e journal.QuotaEntity, comps []kmsg.DescribeClientQuotasRequestComponent, strict bool) bool {
	if strict && len(e) != len(comps) {
		return false
	}
	for _, comp := range comps {
		found := false
		for _, p := range e {
			if p.Type != comp.EntityType {
				continue
			}
			switch comp.MatchType {
			case kmsg.QuotasMatchTypeExact:
				found = !p.Default && p.Name == *comp.Match
			case kmsg.QuotasMatchTypeDefault:
				found = p.Default
			default:
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
