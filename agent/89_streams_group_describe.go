package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// StreamsGroupDescribe (key 89), versions 0-1.
//
// Behavior: describes streams groups: state (Empty, NotReady, Assigning,
// Reconciling, Stable), group and assignment epochs, the configured
// topology (subtopologies with their source, repartition and changelog
// topics and partition counts), and each member's process, endpoint,
// current and target tasks (active, standby, warm-up). The assignor is
// "sticky". A group that is not a streams group is GROUP_ID_NOT_FOUND; one
// another agent coordinates, NOT_COORDINATOR. No topology description is
// stored (v1's status NOT_STORED when asked for one). With the authorizer
// on, each group needs DESCRIBE (GROUP_AUTHORIZATION_FAILED); authorized
// operations are reported when asked for.
func handleStreamsGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.StreamsGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.StreamsGroupDescribeResponse)
	for _, name := range r.Groups {
		if !c.authorizedGroup(acl.OpDescribe, name) {
			g := kmsg.NewStreamsGroupDescribeResponseGroup()
			g.Group, g.ErrorCode = name, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g := c.a.streams.Describe(name)
		if r.IncludeAuthorizedOperations && g.ErrorCode == 0 {
			g.AuthorizedOperations = c.authorizedOps(acl.ResourceGroup, name, groupOps)
		}
		if r.IncludeTopologyDescription && g.ErrorCode == 0 {
			g.TopologyDescriptionStatus = 1 // NOT_STORED
		}
		resp.Groups = append(resp.Groups, g)
	}
	return reply{resp: resp}
}
