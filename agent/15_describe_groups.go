package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// DescribeGroups (key 15), versions 0-5.
//
// Behavior: a group in the coordinator's memory is described with its
// state, protocol and members (metadata and assignment). A group known
// only by its committed offsets is Empty. An unknown group is Dead with no
// error (v0-5 have no GROUP_ID_NOT_FOUND). Authorized operations (v3+, when
// asked) are every group operation: there is no authorizer (authorized.go).
func handleDescribeGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeGroupsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		var dg kmsg.DescribeGroupsResponseGroup
		switch g := a.groups.lookup(name); {
		case !a.ownsGroup(name):
			dg = kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = name, kerr.NotCoordinator.Code
		case g != nil && g.do(func() { dg = g.describe() }):
		default:
			dg = kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.State = name, string(groupDead)
			a.journal.View(func(s *journal.State) {
				if _, ok := s.Groups[name]; ok {
					dg.State, dg.ProtocolType = string(groupEmpty), "consumer"
				}
			})
		}
		if r.IncludeAuthorizedOperations && dg.ErrorCode == 0 {
			dg.AuthorizedOperations = groupOps
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return reply{resp: resp}
}

// describe runs on the group goroutine. A KIP-848 group is described as
// Kafka does to classic clients: its state and protocol type, without
// members (ConsumerGroupDescribe has them).
func (g *group) describe() kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	if g.hasConsumers() {
		dg.Group, dg.State, dg.ProtocolType = g.name, g.consumerState(), "consumer"
		return dg
	}
	dg.Group, dg.State, dg.ProtocolType, dg.Protocol = g.name, string(g.state), g.protocolType, g.protocol
	if g.state == groupEmpty && dg.ProtocolType == "" {
		dg.ProtocolType = "consumer"
	}
	for _, id := range g.joinOrder {
		m, ok := g.members[id]
		if !ok {
			continue
		}
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		if g.state == groupStable {
			dm.ProtocolMetadata = m.metadata(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		dg.Members = append(dg.Members, dm)
	}
	return dg
}
