package agent

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupHeartbeat (key 76), versions 0-1.
//
// Behavior: KIP-932 membership at the group's coordinator: epoch 0 joins
// (with the client's own member id and its subscription), -1 leaves, any
// other must be the member's epoch or the one before (else
// FENCED_MEMBER_EPOCH; UNKNOWN_MEMBER_ID for a member the coordinator does
// not know, which then joins again). The coordinator assigns partitions
// (the simple assignor: several members may share a partition) and sends
// the assignment, by topic id, when it changed or the member sent its
// subscription. A group id used by a classic or consumer group is
// GROUP_ID_NOT_FOUND, as is a streams group's. A heartbeat that changes
// the membership is answered once the change is stored in the journal, so
// a coordinator that takes over resumes the members at their epochs (see
// agent/sharegroups).
//
// With the authorizer on, as Kafka: the group needs READ
// (GROUP_AUTHORIZATION_FAILED) and every subscribed topic DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED).
func handleShareGroupHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.ShareGroupHeartbeatRequest)
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	if code, msg := c.groupHeartbeatRefusal(r.GroupID, r.SubscribedTopicNames); code != 0 {
		resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		return reply{resp: resp}
	}
	if c.a.streams.IsStreamsGroup(r.GroupID) {
		resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = streamsGroupError(r.GroupID)
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		return c.a.shares.Heartbeat(ctx, r, req.clientID, "/"+host)
	}}
}
