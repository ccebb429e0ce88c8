package agent

import (
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
// that will return. Errors: UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH make
// the member rejoin; INCONSISTENT_GROUP_PROTOCOL if the group has classic
// members; INVALID_REGULAR_EXPRESSION for a bad v1 regex (RE2 syntax). The
// response carries the whole assignment when it changed, by topic id.
func handleConsumerGroupHeartbeat(c *conn, req *request) reply {
	r := req.body.(*kmsg.ConsumerGroupHeartbeatRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	switch {
	case r.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
	case !a.ownsGroup(r.Group):
		resp.ErrorCode = kerr.NotCoordinator.Code
	default:
		claim, code := a.groupClaimFor(c.ctx, r.Group)
		if code != 0 {
			resp.ErrorCode = code
			break
		}
		host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
		if !a.groups.doGroup(r.Group, claim, func(g *group) { resp = g.consumerHeartbeat(r, req.clientID, "/"+host) }) {
			resp.ErrorCode = kerr.NotCoordinator.Code
		}
	}
	return reply{resp: resp}
}
