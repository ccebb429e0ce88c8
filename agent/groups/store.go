package groups

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Storing a group's membership in the journal and resuming it (see the
// package doc's Durability).

// persist stores the group's metadata as it is now, beside the group
// goroutine. The returned channel receives the outcome: 0 once the store is
// applied, else a Kafka error code. then, if not nil, runs on the group
// goroutine with the same outcome, unless the group is gone by then. It
// runs on the group goroutine.
func (g *group) persist(then func(code int16)) <-chan int16 {
	g.version++
	claim := g.claim
	cmd := journal.Command{StoreGroup: &journal.StoreGroup{Group: g.name, Claim: &claim, Version: g.version, Meta: g.snapshot()}}
	out := make(chan int16, 1)
	c := g.c
	c.wg.Go(func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.env.CommitTimeout)
		defer cancel()
		res, code := c.env.Submit(ctx, cmd)
		if code == 0 {
			code = res[0].Code
		}
		if code != 0 {
			c.log.Warn("store group membership", "group", g.name, "code", code)
		}
		out <- code
		if then != nil {
			g.post(func() { then(code) })
		}
	})
	return out
}

// storeFailure is the code members get when their group's change could not
// be stored, as Kafka maps a failed append: NOT_COORDINATOR when another
// agent has claimed the group, else COORDINATOR_NOT_AVAILABLE (retriable).
func storeFailure(code int16) int16 {
	if code == kerr.NotCoordinator.Code {
		return code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// snapshot returns the group's metadata as a store records it.
func (g *group) snapshot() *journal.GroupMeta {
	if g.cg != nil && len(g.members) == 0 {
		return &journal.GroupMeta{Consumer: g.cg.snapshot()}
	}
	cm := &journal.ClassicGroupMeta{ProtocolType: g.protocolType, Generation: g.generation}
	if g.state == groupStable || g.state == groupCompletingRebalance {
		cm.Protocol, cm.Leader = g.protocol, g.leader
		for _, id := range g.joinOrder {
			m := g.members[id]
			if m == nil {
				continue
			}
			cm.Members = append(cm.Members, journal.ClassicMember{
				ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
				SessionTimeoutMs: int32(m.sessionTimeout / time.Millisecond), RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
				Metadata: m.metadata(g.protocol), Assignment: m.assignment,
			})
		}
	}
	return &journal.GroupMeta{Classic: cm}
}

func (cg *consumerGroup) snapshot() *journal.ConsumerGroupMeta {
	meta := &journal.ConsumerGroupMeta{Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, Assignor: cg.assignor, TopicsSeen: cg.topicsSeen}
	for _, id := range cg.order {
		m := cg.members[id]
		meta.Members = append(meta.Members, journal.ConsumerMember{
			ID: m.id, InstanceID: m.instanceID, RackID: m.rackID, ClientID: m.clientID, ClientHost: m.clientHost,
			Epoch: m.epoch, PrevEpoch: m.prevEpoch, RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Subscribed: m.subscribed, Regex: m.regex, Assignor: m.assignor,
			Assigned: m.assigned.stored(), Target: m.target.stored(), Revoking: m.revoking.stored(),
		})
	}
	return meta
}

// restore resumes the group from its stored metadata; the caller arms the
// members' timers once the group goroutine runs.
func (g *group) restore(meta *journal.GroupMeta) {
	g.version = meta.Version
	if cm := meta.Consumer; cm != nil {
		cg := &consumerGroup{epoch: cm.Epoch, assignmentEpoch: cm.AssignmentEpoch, assignor: cm.Assignor,
			topicsSeen: cm.TopicsSeen, members: map[string]*cmember{}}
		for _, sm := range cm.Members {
			m := &cmember{
				id: sm.ID, instanceID: sm.InstanceID, rackID: sm.RackID, clientID: sm.ClientID, clientHost: sm.ClientHost,
				epoch: sm.Epoch, prevEpoch: sm.PrevEpoch, rebalanceTimeout: time.Duration(sm.RebalanceTimeoutMs) * time.Millisecond,
				subscribed: sm.Subscribed, regex: sm.Regex, assignor: sm.Assignor,
				assigned: tpSetOf(sm.Assigned), target: tpSetOf(sm.Target), revoking: tpSetOf(sm.Revoking),
			}
			cg.members[m.id] = m
			cg.order = append(cg.order, m.id)
		}
		g.cg = cg
		return
	}
	cm := meta.Classic
	g.protocolType, g.protocol, g.generation, g.leader = cm.ProtocolType, cm.Protocol, cm.Generation, cm.Leader
	g.state = groupEmpty
	for _, sm := range cm.Members {
		m := &member{
			id: sm.ID, instanceID: sm.InstanceID, clientID: sm.ClientID, clientHost: sm.ClientHost,
			sessionTimeout: time.Duration(sm.SessionTimeoutMs) * time.Millisecond, rebalanceTimeout: time.Duration(sm.RebalanceTimeoutMs) * time.Millisecond,
			protocolType: cm.ProtocolType, assignment: sm.Assignment,
			protocols: []kmsg.JoinGroupRequestProtocol{{Name: cm.Protocol, Metadata: sm.Metadata}},
		}
		g.members[m.id] = m
		g.joinOrder = append(g.joinOrder, m.id)
		g.state = groupStable
	}
}

// storedMembers counts the members of stored metadata.
func storedMembers(m *journal.GroupMeta) int {
	switch {
	case m.Classic != nil:
		return len(m.Classic.Members)
	case m.Consumer != nil:
		return len(m.Consumer.Members)
	}
	return 0
}

// stored renders a partition set for the journal, sorted so that equal
// sets store alike.
func (s tpSet) stored() []journal.TopicPartitions {
	byTopic := map[string][]int32{}
	for p := range s {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	out := make([]journal.TopicPartitions, 0, len(byTopic))
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		parts := byTopic[t]
		slices.Sort(parts)
		out = append(out, journal.TopicPartitions{Topic: t, Partitions: parts})
	}
	return out
}

func tpSetOf(stored []journal.TopicPartitions) tpSet {
	s := tpSet{}
	for _, t := range stored {
		for _, p := range t.Partitions {
			s[tp{t.Topic, p}] = struct{}{}
		}
	}
	return s
}
