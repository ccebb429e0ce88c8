package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat (key 12), versions 0-4.
//
// Behavior: keeps a member's session alive. REBALANCE_IN_PROGRESS tells
// it to join again; UNKNOWN_MEMBER_ID (also after the coordinator
// restarted, since membership lives in memory) and ILLEGAL_GENERATION make
// it rejoin from scratch.
func handleHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.HeartbeatRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	switch g := a.groups.lookup(r.Group); {
	case !a.ownsGroup(r.Group):
		resp.ErrorCode = kerr.NotCoordinator.Code
	case g == nil || !g.do(func() { resp.ErrorCode = g.heartbeat(r) }):
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return reply{resp: resp}
}
