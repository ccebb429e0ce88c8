package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ConsumerGroupDescribe (key 69), versions 0-1.
//
// Behavior: describes KIP-848 groups: epochs, assignor, and each member's
// subscription, current and target assignment. A classic group or an
// unknown one is GROUP_ID_NOT_FOUND.
//
// With the authorizer on, each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED), and its authorized operations come from
// the ACLs.
func handleConsumerGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range r.Groups {
		if !c.authorizedGroup(acl.OpDescribe, name) {
			dg := kmsg.NewConsumerGroupDescribeResponseGroup()
			dg.Group, dg.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg := c.a.groups.DescribeConsumer(name, r.IncludeAuthorizedOperations)
		if r.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = c.authorizedOps(acl.ResourceGroup, name, dg.AuthorizedOperations)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return reply{resp: resp}
}
