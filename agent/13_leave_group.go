package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup (key 13), versions 0-5.
//
// Behavior: removes members and starts a rebalance for the rest. v3+
// removes a batch of members, each by member id or by instance id, with a
// code for each (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID).
func handleLeaveGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.LeaveGroupRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	members := r.Members
	if r.Version < 3 {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = r.MemberID
		members = []kmsg.LeaveGroupRequestMember{m}
	}
	if !a.ownsGroup(r.Group) {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return reply{resp: resp}
	}
	g := a.groups.lookup(r.Group)
	codes := make([]int16, len(members))
	ok := g != nil && g.do(func() {
		for i, m := range members {
			codes[i] = g.leave(m.MemberID, m.InstanceID)
		}
	})
	if !ok {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
	}
	if r.Version < 3 {
		resp.ErrorCode = codes[0]
		return reply{resp: resp}
	}
	for i, m := range members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, codes[i]
		resp.Members = append(resp.Members, rm)
	}
	return reply{resp: resp}
}
