package agent

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// OffsetFetch (key 9), versions 1-9.
//
// Behavior: committed offsets from the journal state. A partition with no
// commit answers offset -1; a null topic list (v2+) answers every
// partition the group has committed. v8+ asks for several groups at once.
// RequireStable (v7+): a partition whose offset an open transaction holds
// (TxnOffsetCommit, not yet committed or aborted) answers
// UNSTABLE_OFFSET_COMMIT, and the client asks again. v9 may name a
// KIP-848 or streams member and epoch, which are checked as for a commit. A
// group that moved here a moment ago is read after the journal is caught
// up, in the reply's wait. With the authorizer on, as Kafka: a group needs
// DESCRIBE (GROUP_AUTHORIZATION_FAILED); a topic asked for needs DESCRIBE
// (its partitions TOPIC_AUTHORIZATION_FAILED), and a fetch of every topic
// leaves out those the client may not DESCRIBE.
func handleOffsetFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetFetchRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if r.Version >= 8 {
			for _, rg := range r.Groups {
				if rg.MemberID != nil && rg.MemberEpoch >= 0 && c.permitted(acl.OpDescribe, acl.ResourceGroup, rg.Group) {
					// A streams member's epoch, checked by its coordinator.
					if known, code := c.a.streams.CheckMember(rg.Group, *rg.MemberID, rg.MemberEpoch); known && code != 0 {
						g := kmsg.NewOffsetFetchResponseGroup()
						g.Group, g.ErrorCode = rg.Group, code
						resp.Groups = append(resp.Groups, g)
						continue
					}
				}
				resp.Groups = append(resp.Groups, c.fetchGroupOffsets(ctx, rg, r.RequireStable))
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
		g := c.fetchGroupOffsets(ctx, rg, r.RequireStable)
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

// fetchGroupOffsets is the coordinator's answer for one group, with the
// authorizer's checks.
func (c *conn) fetchGroupOffsets(ctx context.Context, rg kmsg.OffsetFetchRequestGroup, requireStable bool) kmsg.OffsetFetchResponseGroup {
	if !c.authorizedGroup(acl.OpDescribe, rg.Group) {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group, g.ErrorCode = rg.Group, kerr.GroupAuthorizationFailed.Code
		return g
	}
	if !c.a.authz.on {
		return c.a.groups.FetchOffsets(ctx, rg, requireStable)
	}
	if rg.Topics == nil {
		g := c.a.groups.FetchOffsets(ctx, rg, requireStable)
		g.Topics = slices.DeleteFunc(g.Topics, func(t kmsg.OffsetFetchResponseGroupTopic) bool {
			return !c.permitted(acl.OpDescribe, acl.ResourceTopic, t.Topic)
		})
		return g
	}
	kept, denied := splitAuthorized(rg.Topics, func(t kmsg.OffsetFetchRequestGroupTopic) bool { return c.authorizedTopic(acl.OpDescribe, t.Topic) })
	rg.Topics = kept
	if kept == nil {
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{} // not null: null asks for every topic
	}
	g := c.a.groups.FetchOffsets(ctx, rg, requireStable)
	for _, rt := range denied {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			sp.Partition, sp.Offset, sp.ErrorCode = p, -1, kerr.TopicAuthorizationFailed.Code
			st.Partitions = append(st.Partitions, sp)
		}
		g.Topics = append(g.Topics, st)
	}
	return g
}
