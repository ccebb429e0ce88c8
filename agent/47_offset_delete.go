package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// OffsetDelete (key 47), version 0.
//
// Behavior: deletes a group's committed offsets for some partitions, in
// one journal entry. Partitions of a topic the group's members are
// subscribed to are refused with GROUP_SUBSCRIBED_TO_TOPIC; an unknown
// group is GROUP_ID_NOT_FOUND.
func handleOffsetDelete(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetDeleteRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		if !a.ownsGroup(r.Group) {
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp
		}
		subscribed := map[string]bool{}
		if g := a.groups.lookup(r.Group); g != nil {
			g.do(func() {
				for _, m := range g.members {
					var meta kmsg.ConsumerMemberMetadata
					if g.protocolType == "consumer" && meta.ReadFrom(m.metadata(g.protocol)) == nil {
						for _, t := range meta.Topics {
							subscribed[t] = true
						}
					}
				}
				if g.hasConsumers() {
					for _, m := range g.cg.members {
						for _, t := range m.subscribed {
							subscribed[t] = true
						}
					}
				}
			})
		}
		var known bool
		a.journal.View(func(s *journal.State) { _, known = s.Groups[r.Group] })
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
		if len(cmd.Partitions) > 0 {
			claim, code := a.claimGroup(ctx, r.Group)
			cmd.Claim = claim
			var res []journal.Result
			if code == 0 {
				res, code = a.submit(ctx, journal.Command{DeleteGroupOffsets: cmd})
			}
			if code == 0 {
				code = res[0].Code
			}
			if code != 0 && code != kerr.GroupIDNotFound.Code {
				resp.ErrorCode = code
			}
		}
		return resp
	}}
}
