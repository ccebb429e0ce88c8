package agent

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// AlterClientQuotas (key 49), versions 0-1.
//
// Behavior: sets and removes quotas of entities (a user, a client id, both,
// or an IP; a null name is the type's default), committed to the journal
// in one entry, each entry answered on its own. The keys are Kafka's:
// producer_byte_rate, consumer_byte_rate and request_percentage, which
// every agent enforces (quotas.go), and controller_mutation_rate for users
// and client ids and connection_creation_rate for IPs, which are stored
// and described but not enforced. An unknown entity type or key, a type
// named twice, an IP beside a user or client id, or a value that is not
// positive (or not whole, for the byte rates) is INVALID_REQUEST.
// ValidateOnly writes nothing. v1 differs only in encoding.
//
// With the authorizer on, it needs ALTER_CONFIGS on the cluster (every
// entry CLUSTER_AUTHORIZATION_FAILED), as Kafka.
func handleAlterClientQuotas(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterClientQuotasRequest)
	if !c.authorizedCluster(acl.OpAlterConfigs) {
		resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
		for _, re := range r.Entries {
			se := kmsg.NewAlterClientQuotasResponseEntry()
			for _, p := range re.Entity {
				ep := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ep.Type, ep.Name = p.Type, p.Name
				se.Entity = append(se.Entity, ep)
			}
			se.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			resp.Entries = append(resp.Entries, se)
		}
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
		var cmds []journal.Command
		var idx []int
		for _, re := range r.Entries {
			se := kmsg.NewAlterClientQuotasResponseEntry()
			var entity journal.QuotaEntity
			for _, p := range re.Entity {
				ep := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ep.Type, ep.Name = p.Type, p.Name
				se.Entity = append(se.Entity, ep)
				part := journal.QuotaEntityPart{Type: p.Type, Default: p.Name == nil}
				if p.Name != nil {
					part.Name = *p.Name
				}
				entity = append(entity, part)
			}
			cmd, msg := quotaCommand(entity, re.Ops)
			switch {
			case msg != "":
				se.ErrorCode, se.ErrorMessage = kerr.InvalidRequest.Code, &msg
			case !r.ValidateOnly:
				cmds = append(cmds, journal.Command{SetClientQuota: cmd})
				idx = append(idx, len(resp.Entries))
			}
			resp.Entries = append(resp.Entries, se)
		}
		for i, code := range c.a.submitEach(ctx, cmds) {
			resp.Entries[idx[i]].ErrorCode = code
		}
		return resp
	}}
}

// quotaEntityTypes are the entity types Kafka's client quotas know.
var quotaEntityTypes = map[string]bool{"user": true, "client-id": true, "ip": true}

// quotaKeys maps each quota key to whether its value must be whole, for
// user and client-id entities; ipQuotaKeys for IP entities.
var (
	quotaKeys = map[string]bool{
		quotaProduce: true, quotaFetch: true, quotaRequest: false, "controller_mutation_rate": false,
	}
	ipQuotaKeys = map[string]bool{"connection_creation_rate": true}
)

// quotaCommand validates one AlterClientQuotas entry and turns it into a
// command, or returns a message for INVALID_REQUEST.
func quotaCommand(entity journal.QuotaEntity, ops []kmsg.AlterClientQuotasRequestEntryOp) (*journal.SetClientQuota, string) {
	if len(entity) == 0 {
		return nil, "the entity is empty"
	}
	var types []string
	for _, p := range entity {
		if !quotaEntityTypes[p.Type] {
			return nil, "unknown quota entity type " + p.Type
		}
		if slices.Contains(types, p.Type) {
			return nil, "entity type " + p.Type + " named twice"
		}
		types = append(types, p.Type)
	}
	keys := quotaKeys
	if slices.Contains(types, "ip") {
		if len(types) > 1 {
			return nil, "an ip quota cannot be combined with a user or client-id"
		}
		keys = ipQuotaKeys
	}
	cmd := &journal.SetClientQuota{Entity: entity, Set: map[string]float64{}}
	for _, op := range ops {
		whole, ok := keys[op.Key]
		switch {
		case !ok:
			return nil, fmt.Sprintf("unknown quota key %s for entity types %v", op.Key, types)
		case op.Remove:
			cmd.Remove = append(cmd.Remove, op.Key)
		case math.IsNaN(op.Value) || math.IsInf(op.Value, 0) || op.Value <= 0:
			return nil, fmt.Sprintf("quota %s must be positive, not %v", op.Key, op.Value)
		case whole && op.Value != math.Trunc(op.Value):
			return nil, fmt.Sprintf("quota %s must be a whole number, not %v", op.Key, op.Value)
		default:
			cmd.Set[op.Key] = op.Value
		}
	}
	return cmd, ""
}
