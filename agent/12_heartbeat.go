package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// Heartbeat (key 12), versions 0-4.
//
// Behavior: keeps a member's session alive. REBALANCE_IN_PROGRESS tells
// it to join again; UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION make it rejoin
// from scratch; FENCED_INSTANCE_ID tells a static member that a newer
// instance took its place. A group whose coordinator moved here is resumed
// from the journal, so its members' heartbeats carry on.
//
// With the authorizer on, the group needs READ (GROUP_AUTHORIZATION_FAILED).
func handleHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.HeartbeatRequest)
	if !c.authorizedGroup(acl.OpRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = c.a.groups.Heartbeat(ctx, r)
		return resp
	}}
}
