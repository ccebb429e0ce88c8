package agent

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup (key 11), versions 0-9.
//
// Behavior: the classic protocol's join phase (see group_classic.go).
// v4+ requires a member id (KIP-394): a first join gets MEMBER_ID_REQUIRED
// with the id to join with. v5+ static members (group.instance.id) take
// over their instance's place, fencing an older member with it. The
// response waits until every member has joined or the rebalance timeout
// passes; a group that was empty first waits the initial rebalance delay.
// Errors: INVALID_SESSION_TIMEOUT (outside 6 s to 30 min),
// INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// NOT_COORDINATOR (another agent owns the group).
func handleJoinGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.JoinGroupRequest)
	a := c.a
	fail := func(code int16) reply {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = code, r.MemberID, -1
		return reply{resp: resp}
	}
	if r.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	if !a.ownsGroup(r.Group) {
		return fail(kerr.NotCoordinator.Code)
	}
	claim, code := a.groupClaimFor(c.ctx, r.Group)
	if code != 0 {
		return fail(code)
	}
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	var ch chan *kmsg.JoinGroupResponse
	if !a.groups.doGroup(r.Group, claim, func(g *group) { ch = g.join(r, req.clientID, "/"+host) }) {
		return fail(kerr.NotCoordinator.Code)
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-ctx.Done():
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp
		}
	}}
}
