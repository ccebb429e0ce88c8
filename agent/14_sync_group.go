package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// SyncGroup (key 14), versions 0-5.
//
// Behavior: the leader sends every member's assignment; each member waits
// for its own, which it gets once the generation is stored in the journal
// (so a coordinator that takes over resumes it). A member of a stable group
// gets its assignment at once. Errors: UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS (a new join phase began),
// FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL (v5 names the protocol),
// COORDINATOR_NOT_AVAILABLE if the generation could not be stored.
//
// With the authorizer on, the group needs READ (GROUP_AUTHORIZATION_FAILED).
func handleSyncGroup(c *conn, req *request) reply {
	r := req.body.(*kmsg.SyncGroupRequest)
	if !c.authorizedGroup(acl.OpRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply{resp: resp}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.groups.Sync(ctx, r) }}
}
