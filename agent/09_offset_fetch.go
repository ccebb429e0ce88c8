package agent

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// OffsetFetch (key 9), versions 1-9.
//
// Behavior: committed offsets from the journal state. A partition with no
// commit answers offset -1; a null topic list (v2+) answers every
// partition the group has committed. v8+ asks for several groups at once.
// RequireStable (v7+) needs nothing here: commits are applied before they
// are acknowledged, so there are never pending ones to wait for. v9 may
// name a KIP-848 member and epoch, which are checked as for a commit.
func handleOffsetFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetFetchRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version < 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = r.Group
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = t.Topic, t.Partitions
			rg.Topics = append(rg.Topics, rt)
		}
		if r.Topics == nil {
			rg.Topics = nil
		}
		g := a.offsetFetchGroup(rg)
		resp.ErrorCode = g.ErrorCode
		for _, t := range g.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata, sp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return reply{resp: resp}
	}
	for _, rg := range r.Groups {
		resp.Groups = append(resp.Groups, a.offsetFetchGroup(rg))
	}
	return reply{resp: resp}
}

func (a *Agent) offsetFetchGroup(rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = rg.Group
	if !a.ownsGroup(rg.Group) {
		g.ErrorCode = kerr.NotCoordinator.Code
		return g
	}
	if rg.MemberID != nil && rg.MemberEpoch >= 0 {
		if cg := a.groups.lookup(rg.Group); cg != nil {
			cg.do(func() {
				if cg.hasConsumers() {
					g.ErrorCode = cg.checkConsumerCommit(*rg.MemberID, rg.MemberEpoch)
				}
			})
			if g.ErrorCode != 0 {
				return g
			}
		}
	}
	a.freshGroupOffsets(rg.Group)
	a.journal.View(func(s *journal.State) {
		committed := s.Groups[rg.Group]
		topics := rg.Topics
		if topics == nil {
			names := make([]string, 0, len(committed))
			for name := range committed {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic = name
				for p := range committed[name] {
					rt.Partitions = append(rt.Partitions, p)
				}
				sort.Slice(rt.Partitions, func(i, j int) bool { return rt.Partitions[i] < rt.Partitions[j] })
				topics = append(topics, rt)
			}
		}
		for _, rt := range topics {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = p, -1, -1
				if o, ok := committed[rt.Topic][p]; ok {
					sp.Offset, sp.LeaderEpoch = o.Offset, o.LeaderEpoch
					meta := o.Metadata
					sp.Metadata = &meta
				}
				st.Partitions = append(st.Partitions, sp)
			}
			g.Topics = append(g.Topics, st)
		}
	})
	return g
}
