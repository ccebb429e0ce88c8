package agent

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// JoinGroup (key 11), versions 0-9.
//
// Behavior: the classic protocol's join phase (agent/groups). v4+
// requires a member id (KIP-394): a first join gets MEMBER_ID_REQUIRED
// with the id to join with. v5+ static members (group.instance.id) that
// come back under a new member id take their old place: in a Stable group
// whose protocol stays the same they get the current generation and keep
// their assignment with no rebalance (v9 tells a returning leader to skip
// the assignment), as Kafka does. The response waits until every member has
// joined or the rebalance timeout passes; a group that was empty first
// waits the initial rebalance delay. Errors: INVALID_SESSION_TIMEOUT
// (outside 6 s to 30 min), INCONSISTENT_GROUP_PROTOCOL (also for a share
// group's id), UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, NOT_COORDINATOR (another agent owns the group).
//
// With the authorizer on, the group needs READ (GROUP_AUTHORIZATION_FAILED).
func handleJoinGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.JoinGroupRequest)
	if !c.authorizedGroup(acl.OpRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	if c.a.shares.IsShareGroup(r.Group) {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code // a share group's name
		return reply{resp: resp}
	}
	if c.a.streams.IsStreamsGroup(r.Group) {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		return c.a.groups.Join(ctx, r, req.clientID, "/"+host)
	}}
}
