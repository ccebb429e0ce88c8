package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ShareGroupDescribe (key 77), versions 0-1.
//
// Behavior: a share group's state (Stable with members, Empty with only
// share-partition state in the journal), epochs, the "simple" assignor,
// and each member's client, subscription and assignment. A group of
// another type, or none, is GROUP_ID_NOT_FOUND; a group this agent does
// not coordinate NOT_COORDINATOR.
//
// With the authorizer on, each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED), and its authorized operations come from
// the ACLs.
func handleShareGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, name := range r.GroupIDs {
		if !c.authorizedGroup(acl.OpDescribe, name) {
			dg := kmsg.NewShareGroupDescribeResponseGroup()
			dg.GroupID, dg.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg := c.a.shares.Describe(name, r.IncludeAuthorizedOperations)
		if r.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = c.authorizedOps(acl.ResourceGroup, name, dg.AuthorizedOperations)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return reply{resp: resp}
}
