package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerGroupDescribe (key 69), versions 0-1.
//
// Behavior: describes KIP-848 groups: epochs, assignor, and each member's
// subscription, current and target assignment. A classic group or an
// unknown one is GROUP_ID_NOT_FOUND.
func handleConsumerGroupDescribe(c *conn, req *request) reply {
	r := req.body.(*kmsg.ConsumerGroupDescribeRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range r.Groups {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = name
		dg.AuthorizedOperations = -2147483648
		g := a.groups.lookup(name)
		switch {
		case !a.ownsGroup(name):
			dg.ErrorCode = kerr.NotCoordinator.Code
		case g == nil || !g.do(func() { g.describeConsumer(&dg) }):
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return reply{resp: resp}
}

// describeConsumer runs on the group goroutine.
func (g *group) describeConsumer(dg *kmsg.ConsumerGroupDescribeResponseGroup) {
	if g.cg == nil || len(g.members) > 0 {
		dg.ErrorCode = kerr.GroupIDNotFound.Code
		return
	}
	cg := g.cg
	dg.State, dg.Epoch, dg.AssignmentEpoch, dg.AssignorName = g.consumerState(), cg.epoch, cg.assignmentEpoch, cg.assignor
	for _, id := range cg.order {
		m := cg.members[id]
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.RackID, dm.MemberEpoch = m.id, m.instanceID, m.rackID, m.epoch
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		dm.SubscribedTopics, dm.SubscribedTopicRegex = slices.Clone(m.subscribed), m.regex
		dm.Assignment = g.describeAssignment(m.assigned)
		dm.TargetAssignment = g.describeAssignment(m.target)
		dm.MemberType = 1 // consumer protocol
		dg.Members = append(dg.Members, dm)
	}
}

func (g *group) describeAssignment(set tpSet) kmsg.Assignment {
	a := kmsg.NewAssignment()
	byTopic := map[string][]int32{}
	for p := range set {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	for _, t := range g.assignmentOf(set).Topics {
		at := kmsg.NewAssignmentTopicPartition()
		at.TopicID, at.Partitions = t.TopicID, t.Partitions
		for name, parts := range byTopic {
			if slices.Equal(slices.Sorted(slices.Values(parts)), t.Partitions) {
				at.Topic = name
			}
		}
		a.TopicPartitions = append(a.TopicPartitions, at)
	}
	return a
}
