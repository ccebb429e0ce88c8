package sharegroups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// allOperations is every ACL operation on a group, as Kafka reports
// authorized operations without an authorizer (READ, DESCRIBE, DELETE,
// DESCRIBE_CONFIGS, ALTER_CONFIGS).
const allOperations = 1<<3 | 1<<8 | 1<<6 | 1<<10 | 1<<11

// IsShareGroup reports whether the group is a share group: members in
// this agent's memory or share state in the journal.
func (s *Service) IsShareGroup(name string) bool {
	s.mu.Lock()
	live := s.lookupLocked(name) != nil
	s.mu.Unlock()
	if live {
		return true
	}
	stored := false
	s.env.Journal.View(func(js *journal.State) { _, stored = js.Shares[name] })
	return stored
}

// Describe serves one group of ShareGroupDescribe.
func (s *Service) Describe(name string, authorizedOperations bool) kmsg.ShareGroupDescribeResponseGroup {
	dg := kmsg.NewShareGroupDescribeResponseGroup()
	dg.GroupID = name
	if authorizedOperations {
		dg.AuthorizedOperations = allOperations
	}
	fail := func(code int16, msg string) kmsg.ShareGroupDescribeResponseGroup {
		dg.ErrorCode, dg.ErrorMessage = code, &msg
		return dg
	}
	if !s.env.OwnsGroup(name) {
		dg.ErrorCode = kerr.NotCoordinator.Code
		return dg
	}
	if s.otherType(name) {
		return fail(kerr.GroupIDNotFound.Code, fmt.Sprintf("group %s is not a share group", name))
	}
	dg.Assignor = "simple"
	s.mu.Lock()
	g := s.lookupLocked(name)
	if g != nil {
		dg.GroupState, dg.GroupEpoch, dg.AssignmentEpoch = "Stable", g.epoch, g.epoch
		for _, id := range slices.Sorted(maps.Keys(g.members)) {
			m := g.members[id]
			dm := kmsg.NewShareGroupDescribeResponseGroupMember()
			dm.MemberID, dm.RackID, dm.MemberEpoch = m.id, m.rack, m.epoch
			dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
			dm.SubscribedTopicNames = slices.Clone(m.subscribed)
			dm.Assignment = s.describeAssignment(m.assigned)
			dg.Members = append(dg.Members, dm)
		}
	}
	s.mu.Unlock()
	if g != nil {
		return dg
	}
	if !s.IsShareGroup(name) {
		return fail(kerr.GroupIDNotFound.Code, fmt.Sprintf("group %s not found", name))
	}
	dg.GroupState = "Empty"
	return dg
}

func (s *Service) describeAssignment(parts []tp) kmsg.ShareGroupDescribeResponseGroupMemberAssignment {
	a := kmsg.NewShareGroupDescribeResponseGroupMemberAssignment()
	for _, at := range s.assignmentOf(parts).TopicPartitions {
		dt := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
		dt.TopicID, dt.Partitions = at.TopicID, at.Partitions
		s.env.Journal.View(func(js *journal.State) {
			if t := js.TopicByID(journal.TopicID(at.TopicID)); t != nil {
				dt.Topic = t.Name
			}
		})
		a.TopicPartitions = append(a.TopicPartitions, dt)
	}
	return a
}

// Listed is a share group as ListGroups shows it.
type Listed struct {
	Name, State string
}

// List returns the share groups this agent coordinates: Stable with
// members in memory, Empty with state only in the journal.
func (s *Service) List() []Listed {
	seen := map[string]bool{}
	var out []Listed
	var members []string
	if s.durable() {
		s.env.Journal.View(func(js *journal.State) { members = slices.Collect(maps.Keys(js.ShareGroupMembers)) })
	}
	s.mu.Lock()
	for _, name := range members {
		if s.env.OwnsGroup(name) {
			s.lookupLocked(name) // a group that moved here
		}
	}
	for name := range s.mu.groups {
		if s.env.OwnsGroup(name) {
			seen[name] = true
			out = append(out, Listed{Name: name, State: "Stable"})
		}
	}
	s.mu.Unlock()
	var stored []string
	s.env.Journal.View(func(js *journal.State) {
		for name := range js.Shares {
			stored = append(stored, name)
		}
	})
	for _, name := range stored {
		if !seen[name] && s.env.OwnsGroup(name) {
			out = append(out, Listed{Name: name, State: "Empty"})
		}
	}
	return out
}

// members returns the number of members of a group in memory.
func (s *Service) members(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.lookupLocked(name); g != nil {
		return len(g.members)
	}
	return 0
}

func (s *Service) submit(ctx context.Context, cmds ...journal.Command) int16 {
	ctx, cancel := context.WithTimeout(ctx, s.env.CommitTimeout)
	defer cancel()
	res, code := s.env.Submit(ctx, cmds...)
	if code != 0 {
		return code
	}
	for _, r := range res {
		if r.Code != 0 {
			return r.Code
		}
	}
	return 0
}

// DeleteGroup deletes an empty share group and its state (DeleteGroups).
func (s *Service) DeleteGroup(ctx context.Context, name string) int16 {
	switch {
	case !s.env.OwnsGroup(name):
		return kerr.NotCoordinator.Code
	case s.members(name) > 0:
		return kerr.NonEmptyGroup.Code
	}
	return s.submit(ctx, journal.Command{DeleteShare: &journal.DeleteShare{Group: name}})
}

// DescribeOffsets serves one group of DescribeShareGroupOffsets: each
// share-partition's start offset (-1 where it has no state yet) and, v1+,
// its lag: the records from the start offset to the log end not yet
// acknowledged or archived.
func (s *Service) DescribeOffsets(rg kmsg.DescribeShareGroupOffsetsRequestGroup) kmsg.DescribeShareGroupOffsetsResponseGroup {
	g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
	g.GroupID = rg.GroupID
	if !s.env.OwnsGroup(rg.GroupID) {
		g.ErrorCode = kerr.NotCoordinator.Code
		return g
	}
	if s.otherType(rg.GroupID) {
		g.ErrorCode = kerr.GroupIDNotFound.Code
		return g
	}
	s.env.Journal.View(func(js *journal.State) {
		topics := rg.Topics
		if topics == nil { // every topic with state
			byTopic := map[string][]int32{}
			for key := range js.Shares[rg.GroupID] {
				i := strings.LastIndexByte(key, '/')
				p, _ := strconv.Atoi(key[i+1:])
				byTopic[key[:i]] = append(byTopic[key[:i]], int32(p))
			}
			for _, t := range slices.Sorted(maps.Keys(byTopic)) {
				rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
				rt.Topic, rt.Partitions = t, slices.Sorted(slices.Values(byTopic[t]))
				topics = append(topics, rt)
			}
		}
		for _, rt := range topics {
			gt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			gt.Topic = rt.Topic
			t := js.Topic(rt.Topic)
			if t != nil {
				gt.TopicID = t.ID
			}
			for _, p := range rt.Partitions {
				gp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				gp.Partition, gp.StartOffset, gp.LeaderEpoch, gp.Lag = p, -1, -1, -1
				pp := js.Partition(rt.Topic, p)
				if pp == nil {
					gp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else if st := js.Share(rg.GroupID, rt.Topic, p); st != nil && st.StartOffset >= 0 && st.TopicID == t.ID {
					gp.StartOffset, gp.LeaderEpoch = st.StartOffset, 0
					done := int64(0)
					for _, b := range st.Batches {
						if b.State != journal.ShareAvailable {
							done += b.Last - b.First + 1
						}
					}
					gp.Lag = max(pp.NextOffset-st.StartOffset-done, 0)
				}
				gt.Partitions = append(gt.Partitions, gp)
			}
			g.Topics = append(g.Topics, gt)
		}
	})
	return g
}

// AlterOffsets serves AlterShareGroupOffsets: the share-partitions of an
// empty group start again at the given offsets, with nothing in flight and
// delivery counts forgotten.
func (s *Service) AlterOffsets(ctx context.Context, r *kmsg.AlterShareGroupOffsetsRequest) *kmsg.AlterShareGroupOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	code := int16(0)
	switch {
	case !s.env.OwnsGroup(r.GroupID):
		code = kerr.NotCoordinator.Code
	case s.otherType(r.GroupID):
		code = kerr.GroupIDNotFound.Code
	case s.members(r.GroupID) > 0:
		code = kerr.NonEmptyGroup.Code
	}
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	for _, rt := range r.Topics {
		t := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		s.env.Journal.View(func(js *journal.State) {
			if tt := js.Topic(rt.Topic); tt != nil {
				t.TopicID = tt.ID
			}
		})
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			if rp.StartOffset < 0 {
				p.ErrorCode = kerr.InvalidRequest.Code
			} else {
				p.ErrorCode = s.submit(ctx, journal.Command{WriteShare: &journal.WriteShare{
					Group: r.GroupID, Topic: rt.Topic, Partition: rp.Partition, StartOffset: rp.StartOffset, EndOffset: rp.StartOffset,
				}})
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// DeleteOffsets serves DeleteShareGroupOffsets: an empty group's state for
// the named topics is removed; it starts afresh (share.auto.offset.reset)
// when next fetched.
func (s *Service) DeleteOffsets(ctx context.Context, r *kmsg.DeleteShareGroupOffsetsRequest) *kmsg.DeleteShareGroupOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	switch {
	case !s.env.OwnsGroup(r.GroupID):
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	case !s.IsShareGroup(r.GroupID):
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	case s.members(r.GroupID) > 0:
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	for _, rt := range r.Topics {
		t := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		exists := false
		s.env.Journal.View(func(js *journal.State) {
			if tt := js.Topic(rt.Topic); tt != nil {
				t.TopicID, exists = tt.ID, true
			}
		})
		if !exists {
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
		} else {
			t.ErrorCode = s.submit(ctx, journal.Command{DeleteShare: &journal.DeleteShare{Group: r.GroupID, Topics: []string{rt.Topic}}})
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}
