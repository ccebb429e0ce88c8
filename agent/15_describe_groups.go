package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// DescribeGroups (key 15), versions 0-5.
//
// Behavior: a group is described with its state, protocol and members
// (metadata and assignment), from memory or, for a group this agent owns
// but has not resumed yet, from the journal. A group known only by its
// committed offsets is Empty. An unknown group is Dead with no error (v0-5
// have no GROUP_ID_NOT_FOUND). Authorized operations (v3+, when asked) are
// every operation on a group, as Kafka reports without an authorizer. A
// share group is GROUP_ID_NOT_FOUND, "not a classic group", as from Kafka
// (ShareGroupDescribe describes it); so is a streams group
// (StreamsGroupDescribe).
//
// With the authorizer on, each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED), and its authorized operations come from
// the ACLs.
func handleDescribeGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		if !c.authorizedGroup(acl.OpDescribe, name) {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if c.a.shares.IsShareGroup(name) && c.a.ownsGroup(name) {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.State, dg.ErrorCode = name, "Dead", kerr.GroupIDNotFound.Code
			msg := "group " + name + " is a share group, not a classic group"
			dg.ErrorMessage = &msg
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if c.a.streams.IsStreamsGroup(name) {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.State = name, "Dead"
			dg.ErrorCode, dg.ErrorMessage = streamsGroupError(name)
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg := c.a.groups.Describe(name, r.IncludeAuthorizedOperations)
		if r.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = c.authorizedOps(acl.ResourceGroup, name, dg.AuthorizedOperations)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return reply{resp: resp}
}
