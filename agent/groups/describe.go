package groups

import (
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Describing and listing groups. A group this agent owns but has not
// brought into memory is described from its stored metadata, without
// claiming it: describing is a read.

// allOperations is the authorized-operations value Kafka reports without
// an authorizer when a request asks for them: every operation a group has
// (READ, DESCRIBE, DELETE).
const allOperations = 1<<3 | 1<<8 | 1<<6

// Describe answers one group of a DescribeGroups. A KIP-848 group is
// described as Kafka describes it to classic clients: its state and
// protocol type, without members (ConsumerGroupDescribe has them).
func (c *Coordinator) Describe(name string, includeAuthorizedOperations bool) kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	dg.Group = name
	if !c.env.Owns(name) {
		dg.ErrorCode = kerr.NotCoordinator.Code
		return dg
	}
	if !c.view(name, func(g *group) { dg = g.describe() }) {
		dg.State = string(groupDead)
		c.env.Journal.View(func(s *journal.State) {
			if _, ok := s.Groups[name]; ok {
				dg.State, dg.ProtocolType = string(groupEmpty), "consumer"
			}
		})
	}
	if includeAuthorizedOperations {
		dg.AuthorizedOperations = allOperations
	}
	return dg
}

// view runs fn with the named group: on its goroutine if it is in memory,
// else with a copy resumed from its stored metadata. It reports false if
// the group is neither.
func (c *Coordinator) view(name string, fn func(g *group)) bool {
	for {
		g := c.lookup(name)
		if g == nil {
			break
		}
		if g.do(func() { fn(g) }) {
			return true
		}
	}
	var meta *journal.GroupMeta
	c.env.Journal.View(func(s *journal.State) {
		if m := s.GroupMeta[name]; m != nil {
			cp := *m
			meta = &cp
		}
	})
	if meta == nil {
		return false
	}
	g := newGroup(c, name, journal.GroupClaim{})
	g.restore(meta)
	fn(g)
	return true
}

func (g *group) describe() kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	if g.cg != nil && len(g.members) == 0 {
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

// ListedGroup is one group of a ListGroups answer.
type ListedGroup struct {
	Name, State, ProtocolType, Type string
}

// List returns the groups this agent coordinates: those in memory or
// stored, with their state, and those known only by committed offsets as
// Empty classic groups. A KIP-848 group stays of type consumer when its
// last member leaves, as in Kafka. Empty filters mean all.
func (c *Coordinator) List(states, types []string) []ListedGroup {
	seen := map[string]bool{}
	var out []ListedGroup
	add := func(l ListedGroup) {
		if seen[l.Name] || !c.env.Owns(l.Name) {
			return
		}
		seen[l.Name] = true
		if len(states) > 0 && !slices.Contains(states, l.State) {
			return
		}
		if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, l.Type) }) {
			return
		}
		out = append(out, l)
	}
	listed := func(g *group) ListedGroup {
		l := ListedGroup{Name: g.name, State: string(g.state), ProtocolType: g.protocolType, Type: "classic"}
		if g.cg != nil && len(g.members) == 0 {
			l.State, l.ProtocolType, l.Type = g.consumerState(), "consumer", "consumer"
		}
		if l.ProtocolType == "" {
			l.ProtocolType = "consumer"
		}
		return l
	}
	for _, g := range c.all() {
		var l ListedGroup
		if g.do(func() { l = listed(g) }) && l.State != string(groupDead) {
			add(l)
		}
	}
	var stored, committed []string
	c.env.Journal.View(func(s *journal.State) {
		for name := range s.GroupMeta {
			stored = append(stored, name)
		}
		for name := range s.Groups {
			committed = append(committed, name)
		}
	})
	for _, name := range stored {
		if !seen[name] {
			c.view(name, func(g *group) { add(listed(g)) })
		}
	}
	for _, name := range committed {
		add(ListedGroup{Name: name, State: string(groupEmpty), ProtocolType: "consumer", Type: "classic"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DescribeConsumer answers one group of a ConsumerGroupDescribe: epochs,
// assignor, and each member's subscription, current and target
// assignment. A classic group or an unknown one is GROUP_ID_NOT_FOUND.
func (c *Coordinator) DescribeConsumer(name string, includeAuthorizedOperations bool) kmsg.ConsumerGroupDescribeResponseGroup {
	dg := kmsg.NewConsumerGroupDescribeResponseGroup()
	dg.Group = name
	if includeAuthorizedOperations {
		dg.AuthorizedOperations = allOperations
	}
	switch {
	case !c.env.Owns(name):
		dg.ErrorCode = kerr.NotCoordinator.Code
	case !c.view(name, func(g *group) { g.describeConsumer(&dg) }):
		dg.ErrorCode = kerr.GroupIDNotFound.Code
	}
	return dg
}

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
