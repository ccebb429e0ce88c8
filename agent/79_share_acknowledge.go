package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// ShareAcknowledge (key 79), versions 0-2.
//
// Behavior: acknowledgements in the member's share session, as in
// ShareFetch: the session's epoch must follow (0 is
// INVALID_SHARE_SESSION_EPOCH), -1 also closes the session and releases
// what the member still holds here. Each partition's outcome is answered
// once the acknowledgements are durable in the journal, so an
// acknowledged record is never delivered again, whichever agent owns the
// share-partition next. IsRenewAck (v2) allows RENEW, which extends the
// locks.
//
// With the authorizer on, as Kafka: the group needs READ (the whole
// response GROUP_AUTHORIZATION_FAILED) and each topic READ (its
// partitions TOPIC_AUTHORIZATION_FAILED).
func handleShareAcknowledge(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareAcknowledgeRequest)
	if !c.authorizedGroup(acl.OpRead, deref(r.GroupID)) {
		resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	var denied []kmsg.ShareAcknowledgeRequestTopic
	if c.a.authz.on {
		unreadable := c.deniedTopicIDs(acl.OpRead, len(r.Topics), func(i int) [16]byte { return r.Topics[i].TopicID })
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.ShareAcknowledgeRequestTopic) bool { return !unreadable[t.TopicID] })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.shares.Acknowledge(ctx, r)
		for _, rt := range denied {
			st := kmsg.NewShareAcknowledgeResponseTopic()
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewShareAcknowledgeResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}
