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

// Committed offsets: commits checked against the group's membership and
// written through the journal under the group's claim; fetches read the
// journal's state.

// CommitOffsets handles an OffsetCommit.
func (c *Coordinator) CommitOffsets(ctx context.Context, r *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	setAll := func(code int16) *kmsg.OffsetCommitResponse {
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				resp.Topics[ti].Partitions[pi].ErrorCode = code
			}
		}
		return resp
	}
	switch {
	case r.Group == "":
		return setAll(kerr.InvalidGroupID.Code)
	case !c.env.Owns(r.Group):
		return setAll(kerr.NotCoordinator.Code)
	}
	var (
		code  int16
		claim journal.GroupClaim
	)
	found, lcode := c.doGroup(ctx, r.Group, false, func(g *group) {
		code = g.checkCommit(r.MemberID, r.InstanceID, r.Generation)
		// The members' commits carry the claim their group runs
		// under, never a newer one.
		claim = g.claim
	})
	switch {
	case lcode != 0:
		return setAll(lcode)
	case found && code != 0:
		return setAll(code)
	case !found && r.Generation >= 0:
		// No such group here: a member of a generation that never
		// completed. It must rejoin, as Kafka tells it.
		return setAll(kerr.IllegalGeneration.Code)
	case !found:
		// A commit from outside any group (a tool's, or a consumer that
		// assigns its own partitions) claims the group as a new
		// coordinator would.
		if claim, code = c.claim(ctx, r.Group); code != 0 {
			return setAll(code)
		}
	}

	cmd := &journal.CommitOffsets{Group: r.Group, Claim: &claim}
	type slot struct{ t, p int }
	var slots []slot
	for ti, rt := range r.Topics {
		for pi, rp := range rt.Partitions {
			meta := ""
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			if len(meta) > maxOffsetMetadata {
				resp.Topics[ti].Partitions[pi].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			cmd.Offsets = append(cmd.Offsets, journal.OffsetCommit{
				Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, Metadata: meta,
			})
			slots = append(slots, slot{ti, pi})
		}
	}
	if len(cmd.Offsets) == 0 {
		return resp
	}
	res, code := c.env.Submit(ctx, journal.Command{CommitOffsets: cmd})
	for i, s := range slots {
		sp := &resp.Topics[s.t].Partitions[s.p]
		if code != 0 {
			sp.ErrorCode = code
		} else {
			sp.ErrorCode = res[0].Partitions[i]
		}
	}
	return resp
}

// FetchOffsets answers one group of an OffsetFetch. A KIP-848 member and
// epoch, if named (v9), are checked as for a commit. With requireStable, a
// partition whose offset an open transaction holds is
// UNSTABLE_OFFSET_COMMIT.
func (c *Coordinator) FetchOffsets(ctx context.Context, rg kmsg.OffsetFetchRequestGroup, requireStable bool) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = rg.Group
	if !c.env.Owns(rg.Group) {
		out.ErrorCode = kerr.NotCoordinator.Code
		return out
	}
	if rg.MemberID != nil && rg.MemberEpoch >= 0 {
		_, code := c.doGroup(ctx, rg.Group, false, func(g *group) {
			if g.hasConsumers() {
				out.ErrorCode = g.checkConsumerCommit(*rg.MemberID, rg.MemberEpoch)
			}
		})
		if code != 0 {
			out.ErrorCode = code
		}
		if out.ErrorCode != 0 {
			return out
		}
	}
	c.freshOffsets(ctx, rg.Group)
	c.env.Journal.View(func(s *journal.State) {
		committed := s.Groups[rg.Group]
		topics := rg.Topics
		if topics == nil {
			for _, name := range slices.Sorted(maps.Keys(committed)) {
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic = name
				rt.Partitions = slices.Sorted(maps.Keys(committed[name]))
				topics = append(topics, rt)
			}
		}
		for _, rt := range topics {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = p, -1, -1
				if requireStable && s.PendingTxnOffset(rg.Group, rt.Topic, p) {
					sp.ErrorCode = kerr.UnstableOffsetCommit.Code
				} else if o, ok := committed[rt.Topic][p]; ok {
					sp.Offset, sp.LeaderEpoch = o.Offset, o.LeaderEpoch
					meta := o.Metadata
					sp.Metadata = &meta
				}
				st.Partitions = append(st.Partitions, sp)
			}
			out.Topics = append(out.Topics, st)
		}
	})
	return out
}

// CheckTxnCommit checks a TxnOffsetCommit's member as CommitOffsets checks
// an OffsetCommit's: 0 if the member may commit for the group.
func (c *Coordinator) CheckTxnCommit(ctx context.Context, name, memberID string, instanceID *string, generation int32) int16 {
	switch {
	case name == "":
		return kerr.InvalidGroupID.Code
	case !c.env.Owns(name):
		return kerr.NotCoordinator.Code
	}
	var code int16
	found, lcode := c.doGroup(ctx, name, false, func(g *group) { code = g.checkCommit(memberID, instanceID, generation) })
	switch {
	case lcode != 0:
		return lcode
	case found:
		return code
	case generation >= 0:
		return kerr.IllegalGeneration.Code
	}
	return 0
}

// DeleteGroup deletes an empty group: its offsets and stored membership.
// A group with members is NON_EMPTY_GROUP; a group with neither members nor
// offsets GROUP_ID_NOT_FOUND. As in Kafka, the deleted group is gone at
// once: it leaves memory before the journal write, so ListGroups and
// DescribeGroups no longer show it.
func (c *Coordinator) DeleteGroup(ctx context.Context, name string) int16 {
	if !c.env.Owns(name) {
		return kerr.NotCoordinator.Code
	}
	inMemory := false
	members := 0
	found, code := c.doGroup(ctx, name, false, func(g *group) {
		members = g.memberCount()
		if members == 0 {
			g.shutdown()
			if g.idle != nil {
				g.idle.Stop()
			}
			c.drop(g)
		}
	})
	switch {
	case code != 0:
		return code
	case found && members > 0:
		return kerr.NonEmptyGroup.Code
	case found:
		inMemory = true
	}
	var known bool
	c.env.Journal.View(func(s *journal.State) {
		_, hasOffsets := s.Groups[name]
		_, hasMeta := s.GroupMeta[name]
		known = hasOffsets || hasMeta
	})
	if !known {
		if inMemory {
			return 0
		}
		return kerr.GroupIDNotFound.Code
	}
	claim, code := c.claim(ctx, name)
	if code != 0 {
		return code
	}
	res, code := c.env.Submit(ctx, journal.Command{DeleteGroupOffsets: &journal.DeleteGroupOffsets{Group: name, Claim: &claim}})
	if code != 0 {
		return code
	}
	if res[0].Code == kerr.GroupIDNotFound.Code && inMemory {
		return 0
	}
	return res[0].Code
}

// DeleteOffsets handles an OffsetDelete: some partitions' offsets, in one
// journal entry. Partitions of a topic the group's members subscribe to are
// refused with GROUP_SUBSCRIBED_TO_TOPIC.
func (c *Coordinator) DeleteOffsets(ctx context.Context, r *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if !c.env.Owns(r.Group) {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	subscribed := map[string]bool{}
	if _, code := c.doGroup(ctx, r.Group, false, func(g *group) { g.subscribedTo(subscribed) }); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	var known bool
	c.env.Journal.View(func(s *journal.State) { _, known = s.Groups[r.Group] })
	if !known {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}
	cmd := &journal.DeleteGroupOffsets{Group: r.Group}
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if subscribed[rt.Topic] {
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else {
				cmd.Partitions = append(cmd.Partitions, journal.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(cmd.Partitions) == 0 {
		return resp
	}
	claim, code := c.claimFor(ctx, r.Group)
	cmd.Claim = &claim
	var res []journal.Result
	if code == 0 {
		res, code = c.env.Submit(ctx, journal.Command{DeleteGroupOffsets: cmd})
	}
	if code == 0 {
		code = res[0].Code
	}
	if code != 0 && code != kerr.GroupIDNotFound.Code {
		resp.ErrorCode = code
	}
	return resp
}

// subscribedTo adds the topics the group's members subscribe to.
func (g *group) subscribedTo(topics map[string]bool) {
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if g.protocolType == "consumer" && meta.ReadFrom(m.metadata(g.protocol)) == nil {
			for _, t := range meta.Topics {
				topics[t] = true
			}
		}
	}
	if g.cg != nil {
		for _, m := range g.cg.members {
			for _, t := range m.subscribed {
				topics[t] = true
			}
		}
	}
}

// ExpireOffsets deletes the committed offsets of groups that have had no
// members for longer than offsets.retention.minutes, as Kafka does
// (KIP-211). The age is that of the group's newest commit, which every
// agent sees alike in the journal; a group with members, in memory or
// stored, keeps its offsets. Offsets of deleted topics go with the topic
// (journal.DeleteTopic).
func (c *Coordinator) ExpireOffsets(ctx context.Context, now time.Time) {
	cutoff := now.Add(-c.env.OffsetsRetention).UnixMilli()
	var stale []string
	c.env.Journal.View(func(s *journal.State) {
		for name, topics := range s.Groups {
			newest := int64(0)
			for _, parts := range topics {
				for _, o := range parts {
					newest = max(newest, o.CommitTime)
				}
			}
			if m := s.GroupMeta[name]; m != nil && storedMembers(m) > 0 {
				continue
			}
			if m := s.StreamsGroups[name]; m != nil && len(m.Members) > 0 {
				continue // a streams group with members (agent/streamsgroups)
			}
			if newest < cutoff && c.env.Owns(name) {
				stale = append(stale, name)
			}
		}
	})
	var cmds []journal.Command
	for _, name := range stale {
		if g := c.lookup(name); g != nil {
			live := false
			g.do(func() { live = g.memberCount() > 0 })
			if live {
				continue
			}
		}
		cmds = append(cmds, journal.Command{DeleteGroupOffsets: &journal.DeleteGroupOffsets{Group: name}})
	}
	if len(cmds) == 0 {
		return
	}
	if _, code := c.env.Submit(ctx, cmds...); code != 0 {
		c.log.Warn("expiring group offsets failed", "groups", len(cmds))
		return
	}
	c.log.Info("expired the offsets of empty groups", "groups", len(cmds), "retention", c.env.OffsetsRetention)
}
