package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// DeleteAcls (key 31), versions 1-3.
//
// Behavior: with the authorizer off (see DescribeAcls), every filter is
// answered SECURITY_DISABLED with no matches, as a Kafka broker without
// one answers. With it on, it needs ALTER on the cluster (every filter
// CLUSTER_AUTHORIZATION_FAILED otherwise); a filter with an UNKNOWN code
// is INVALID_REQUEST; the others are committed together in one journal
// entry, each deleting the ACLs it matches when the entry is applied, and
// answered with them.
func handleDeleteAcls(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	refused, msg := c.aclAlterRefusal()
	for range r.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = refused, msg
		resp.Results = append(resp.Results, res)
	}
	if refused != 0 {
		return reply{resp: resp}
	}
	var cmds []journal.Command
	var idx []int
	for i, rf := range r.Filters {
		f := aclFilter(rf.ResourceType, rf.ResourceName, rf.ResourcePatternType, rf.Principal, rf.Host, rf.Operation, rf.PermissionType)
		if err := f.Validate(); err != nil {
			msg := err.Error()
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, &msg
			continue
		}
		cmds = append(cmds, journal.Command{DeleteACLs: &journal.DeleteACLs{Filter: f}})
		idx = append(idx, i)
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		if len(cmds) == 0 {
			return resp
		}
		res, code := c.a.submit(ctx, cmds...)
		for i, j := range idx {
			if code != 0 {
				resp.Results[j].ErrorCode = code
				continue
			}
			resp.Results[j].ErrorCode = res[i].Code
			for _, b := range res[i].ACLs {
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.Name
				m.ResourcePatternType = kmsg.ACLResourcePatternType(b.Pattern)
				m.Principal, m.Host = b.Principal, b.Host
				m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
				resp.Results[j].MatchingACLs = append(resp.Results[j].MatchingACLs, m)
				c.log.Info("deleted ACL", "principal", c.principal, "acl", b.String())
			}
		}
		return resp
	}}
}
