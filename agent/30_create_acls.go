package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// CreateAcls (key 30), versions 1-3.
//
// Behavior: with the authorizer off (see DescribeAcls), every creation is
// answered SECURITY_DISABLED, as a Kafka broker without one answers, and
// nothing is stored. With it on, it needs ALTER on the cluster (every
// creation CLUSTER_AUTHORIZATION_FAILED otherwise); each creation is
// validated as Kafka validates it (a concrete resource type, LITERAL or
// PREFIXED, a concrete operation and permission, a non-empty name, the
// cluster named kafka-cluster, a principal "Type:name", a host) and
// answered INVALID_REQUEST with the reason, or committed to the journal;
// the valid ones of a request share one entry, each answered on its own.
// An ACL that already exists is answered as created.
func handleCreateAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	refused, msg := c.aclAlterRefusal()
	for range r.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = refused, msg
		resp.Results = append(resp.Results, res)
	}
	if refused != 0 {
		return reply{resp: resp}
	}
	var cmds []journal.Command
	var idx []int
	for i, cr := range r.Creations {
		b := acl.Binding{
			ResourceType: acl.ResourceType(cr.ResourceType), Name: cr.ResourceName, Pattern: acl.PatternType(cr.ResourcePatternType),
			Principal: cr.Principal, Host: cr.Host, Operation: acl.Operation(cr.Operation), Permission: acl.Permission(cr.PermissionType),
		}
		if err := b.Validate(); err != nil {
			msg := err.Error()
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, &msg
			continue
		}
		cmds = append(cmds, journal.Command{CreateACL: &journal.CreateACL{ACL: b}})
		idx = append(idx, i)
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		for i, code := range c.a.submitEach(ctx, cmds) {
			resp.Results[idx[i]].ErrorCode = code
			if code == 0 {
				c.log.Info("created ACL", "principal", c.principal, "acl", cmds[i].CreateACL.ACL.String())
			}
		}
		return resp
	}}
}
