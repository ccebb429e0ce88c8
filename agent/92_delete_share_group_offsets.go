package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// DeleteShareGroupOffsets (key 92), version 0.
//
// Behavior: removes a group's share state for whole topics, for a group
// without members (NON_EMPTY_GROUP otherwise; GROUP_ID_NOT_FOUND for no
// share group); the next fetch starts afresh at share.auto.offset.reset.
//
// With the authorizer on, as Kafka: the group needs DELETE
// (GROUP_AUTHORIZATION_FAILED) and each topic READ
// (TOPIC_AUTHORIZATION_FAILED).
func handleDeleteShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteShareGroupOffsetsRequest)
	if !c.authorizedGroup(acl.OpDelete, r.GroupID) {
		resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	var denied []kmsg.DeleteShareGroupOffsetsRequestTopic
	if c.a.authz.on {
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.DeleteShareGroupOffsetsRequestTopic) bool { return c.authorizedTopic(acl.OpRead, t.Topic) })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.shares.DeleteOffsets(ctx, r)
		for _, t := range denied {
			st := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
			st.Topic, st.ErrorCode = t.Topic, kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}
