package agent

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerGroupHeartbeat (key 68), versions 0-1.
//
// Behavior: the KIP-848 protocol, with the assignment computed by the
// coordinator (uniform, the default, or range; others are
// UNSUPPORTED_ASSIGNOR). Epoch 0 joins (v0 gets a member id from the
// coordinator, v1 brings its own), -1 leaves, -2 leaves as a static member
// that will return: it keeps its place and assignment, which its instance
// takes up again on rejoining. A heartbeat that changes the group is
// answered once the change is stored in the journal, so a coordinator that
// takes over resumes epochs and assignments. Errors: UNKNOWN_MEMBER_ID and
// FENCED_MEMBER_EPOCH make the member rejoin; UNRELEASED_INSTANCE_ID for a
// joining instance id a live member holds; INCONSISTENT_GROUP_PROTOCOL if
// the group has classic members; INVALID_REGULAR_EXPRESSION for a bad v1
// regex (RE2 syntax); GROUP_ID_NOT_FOUND for a share or streams group's
// id. A refused
// heartbeat changes nothing. The response
// carries the whole assignment when it changed, by topic id.
//
// With the authorizer on, as Kafka: the group needs READ
// (GROUP_AUTHORIZATION_FAILED) and every subscribed topic name DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED); a regex subscribes the member only to the
// matching topics it may DESCRIBE (agent/groups' memberTopics).
func handleConsumerGroupHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.ConsumerGroupHeartbeatRequest)
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	if code, msg := c.groupHeartbeatRefusal(r.Group, r.SubscribedTopicNames); code != 0 {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		return reply{resp: resp}
	}
	if c.a.shares.IsShareGroup(r.Group) {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		msg := "group " + r.Group + " is a share group, not a consumer group"
		resp.ErrorCode, resp.ErrorMessage = kerr.GroupIDNotFound.Code, &msg
		return reply{resp: resp}
	}
	if c.a.streams.IsStreamsGroup(r.Group) {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode, resp.ErrorMessage = streamsGroupError(r.Group)
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		return c.a.groups.ConsumerHeartbeat(ctx, r, req.clientID, "/"+host, c.principal)
	}}
}
