package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch (key 9), versions 1-9.
//
// Behavior: committed offsets from the journal state. A partition with no
// commit answers offset -1; a null topic list (v2+) answers every
// partition the group has committed. v8+ asks for several groups at once.
// RequireStable (v7+) needs nothing here: commits are applied before they
// are acknowledged, so there are never pending ones to wait for. v9 may
// name a KIP-848 or streams member and epoch, which are checked as for a
// commit. A
// group that moved here a moment ago is read after the journal is caught
// up, in the reply's wait.
func handleOffsetFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetFetchRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if r.Version >= 8 {
			for _, rg := range r.Groups {
				if rg.MemberID != nil && rg.MemberEpoch >= 0 {
					// A streams member's epoch, checked by its coordinator.
					if known, code := c.a.streams.CheckMember(rg.Group, *rg.MemberID, rg.MemberEpoch); known && code != 0 {
						g := kmsg.NewOffsetFetchResponseGroup()
						g.Group, g.ErrorCode = rg.Group, code
						resp.Groups = append(resp.Groups, g)
						continue
					}
				}
				resp.Groups = append(resp.Groups, c.a.groups.FetchOffsets(ctx, rg))
			}
			return resp
		}
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
		g := c.a.groups.FetchOffsets(ctx, rg)
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
		return resp
	}}
}
