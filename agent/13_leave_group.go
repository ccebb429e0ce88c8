package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/groups"
	"github.com/silt-io/silt/internal/acl"
)

// LeaveGroup (key 13), versions 0-5.
//
// Behavior: removes members and starts a rebalance for the rest. v3+
// removes a batch of members, each by member id or by instance id, with a
// code for each (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID).
//
// With the authorizer on, the group needs READ (GROUP_AUTHORIZATION_FAILED).
func handleLeaveGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.LeaveGroupRequest)
	if !c.authorizedGroup(acl.OpRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		var members []groups.LeaveMember
		if r.Version < 3 {
			members = []groups.LeaveMember{{MemberID: r.MemberID}}
		}
		for _, m := range r.Members {
			members = append(members, groups.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
		code, codes := c.a.groups.Leave(ctx, r.Group, members)
		switch {
		case code != 0:
			resp.ErrorCode = code
		case r.Version < 3:
			resp.ErrorCode = codes[0]
		default:
			for i, m := range r.Members {
				rm := kmsg.NewLeaveGroupResponseMember()
				rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, codes[i]
				resp.Members = append(resp.Members, rm)
			}
		}
		return resp
	}}
}
