package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup (key 14), versions 0-5.
//
// Behavior: the leader sends every member's assignment; each member waits
// for its own. A member of a stable group gets its assignment at once.
// Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS
// (a new join phase began), FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL
// (v5 names the protocol).
func handleSyncGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.SyncGroupRequest)
	a := c.a
	fail := func(code int16) reply {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return reply{resp: resp}
	}
	if !a.ownsGroup(r.Group) {
		return fail(kerr.NotCoordinator.Code)
	}
	g := a.groups.lookup(r.Group)
	if g == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	var ch chan *kmsg.SyncGroupResponse
	if !g.do(func() { ch = g.sync(r) }) {
		return fail(kerr.UnknownMemberID.Code)
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-ctx.Done():
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp
		}
	}}
}
