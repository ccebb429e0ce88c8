package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupDescribe (key 77), versions 0-1.
//
// Behavior: a share group's state (Stable with members, Empty with only
// share-partition state in the journal), epochs, the "simple" assignor,
// and each member's client, subscription and assignment. A group of
// another type, or none, is GROUP_ID_NOT_FOUND; a group this agent does
// not coordinate NOT_COORDINATOR.
func handleShareGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, name := range r.GroupIDs {
		resp.Groups = append(resp.Groups, c.a.shares.Describe(name, r.IncludeAuthorizedOperations))
	}
	return reply{resp: resp}
}
