package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// AlterShareGroupOffsets (key 91), version 0.
//
// Behavior: sets the start offset of share-partitions of a group without
// members (NON_EMPTY_GROUP otherwise), through the journal: nothing is in
// flight after it and delivery counts start again, and the owner reloads
// (kafka-share-groups.sh --reset-offsets).
//
// With the authorizer on, as Kafka: the group needs READ
// (GROUP_AUTHORIZATION_FAILED) and each topic READ (its partitions
// TOPIC_AUTHORIZATION_FAILED).
func handleAlterShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterShareGroupOffsetsRequest)
	if !c.authorizedGroup(acl.OpRead, r.GroupID) {
		resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	var denied []kmsg.AlterShareGroupOffsetsRequestTopic
	if c.a.authz.on {
		r.Topics, denied = splitAuthorized(r.Topics, func(t kmsg.AlterShareGroupOffsetsRequestTopic) bool { return c.authorizedTopic(acl.OpRead, t.Topic) })
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := c.a.shares.AlterOffsets(ctx, r)
		for _, t := range denied {
			st := kmsg.NewAlterShareGroupOffsetsResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}
