package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// OffsetDelete (key 47), version 0.
//
// Behavior: deletes a group's committed offsets for some partitions, in
// one journal entry. Partitions of a topic the group's members are
// subscribed to are refused with GROUP_SUBSCRIBED_TO_TOPIC; an unknown
// group is GROUP_ID_NOT_FOUND.
//
// With the authorizer on, the group needs DELETE (GROUP_AUTHORIZATION_FAILED)
// and each topic READ (its partitions TOPIC_AUTHORIZATION_FAILED).
func handleOffsetDelete(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetDeleteRequest)
	if !c.authorizedGroup(acl.OpDelete, r.Group) {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	var denied []kmsg.OffsetDeleteRequestTopic
	if c.a.authz.on {
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.OffsetDeleteRequestTopic) bool { return c.authorizedTopic(acl.OpRead, t.Topic) })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.groups.DeleteOffsets(ctx, r)
		for _, rt := range denied {
			st := kmsg.NewOffsetDeleteResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetDeleteResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}
