package groups

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The membership APIs, as the agent's handlers call them. Each blocks until
// its response is ready (a JoinGroup until the join phase ends), so a
// handler calls it from its reply's wait function, never on the
// connection's reader; ctx is the request's.

// Join handles a JoinGroup from a client at clientHost.
func (c *Coordinator) Join(ctx context.Context, r *kmsg.JoinGroupRequest, clientID, clientHost string) *kmsg.JoinGroupResponse {
	fail := func(code int16) *kmsg.JoinGroupResponse {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = code, r.MemberID, -1
		return resp
	}
	switch {
	case r.Group == "":
		return fail(kerr.InvalidGroupID.Code)
	case !c.env.Owns(r.Group):
		return fail(kerr.NotCoordinator.Code)
	}
	var ch chan *kmsg.JoinGroupResponse
	if _, code := c.doGroup(ctx, r.Group, true, func(g *group) { ch = g.join(r, clientID, clientHost) }); code != 0 {
		return fail(code)
	}
	select {
	case resp := <-ch:
		return resp
	case <-ctx.Done():
		return fail(kerr.NotCoordinator.Code)
	}
}

// Sync handles a SyncGroup.
func (c *Coordinator) Sync(ctx context.Context, r *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	fail := func(code int16) *kmsg.SyncGroupResponse {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp
	}
	if !c.env.Owns(r.Group) {
		return fail(kerr.NotCoordinator.Code)
	}
	var ch chan *kmsg.SyncGroupResponse
	found, code := c.doGroup(ctx, r.Group, false, func(g *group) { ch = g.sync(r) })
	switch {
	case code != 0:
		return fail(code)
	case !found:
		return fail(kerr.UnknownMemberID.Code)
	}
	select {
	case resp := <-ch:
		return resp
	case <-ctx.Done():
		return fail(kerr.NotCoordinator.Code)
	}
}

// Heartbeat handles a Heartbeat and returns its error code.
func (c *Coordinator) Heartbeat(ctx context.Context, r *kmsg.HeartbeatRequest) int16 {
	if !c.env.Owns(r.Group) {
		return kerr.NotCoordinator.Code
	}
	var code int16
	found, lcode := c.doGroup(ctx, r.Group, false, func(g *group) { code = g.heartbeat(r) })
	switch {
	case lcode != 0:
		return lcode
	case !found:
		return kerr.UnknownMemberID.Code
	}
	return code
}

// LeaveMember is one member of a LeaveGroup: by member id, or by instance
// id for a static member.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
}

// Leave removes members from a group and returns a code for each.
func (c *Coordinator) Leave(ctx context.Context, name string, members []LeaveMember) (int16, []int16) {
	if !c.env.Owns(name) {
		return kerr.NotCoordinator.Code, nil
	}
	codes := make([]int16, len(members))
	found, code := c.doGroup(ctx, name, false, func(g *group) {
		for i, m := range members {
			codes[i] = g.leave(m.MemberID, m.InstanceID)
		}
	})
	if code != 0 {
		return code, nil
	}
	if !found {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
	}
	return 0, codes
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat (KIP-848) from
// principal ("User:alice"; it limits what a regex subscription matches when
// Env.TopicAuthorized is set). A heartbeat that changed the group is
// answered once the change is stored.
func (c *Coordinator) ConsumerHeartbeat(ctx context.Context, r *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost, principal string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	switch {
	case r.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	case !c.env.Owns(r.Group):
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	var stored <-chan int16
	if _, code := c.doGroup(ctx, r.Group, true, func(g *group) { resp, stored = g.consumerHeartbeat(r, clientID, clientHost, principal) }); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if stored == nil {
		return resp
	}
	select {
	case code := <-stored:
		if code != 0 {
			failed := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
			failed.ErrorCode = storeFailure(code)
			return failed
		}
		return resp
	case <-ctx.Done():
		failed := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		failed.ErrorCode = kerr.NotCoordinator.Code
		return failed
	}
}
