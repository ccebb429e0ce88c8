package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// DeleteGroups (key 42), versions 0-2.
//
// Behavior: deletes an empty group and its committed offsets (through the
// journal). A group with members is NON_EMPTY_GROUP; a group with neither
// members nor offsets GROUP_ID_NOT_FOUND. As in Kafka, the deleted group is
// Dead and gone at once: it leaves the coordinator's memory before its
// offsets are deleted, so ListGroups and DescribeGroups no longer show it.
func handleDeleteGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteGroupsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, name := range r.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = name
			rg.ErrorCode = a.deleteGroup(ctx, name)
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}}
}

func (a *Agent) deleteGroup(ctx context.Context, name string) int16 {
	if !a.ownsGroup(name) {
		return kerr.NotCoordinator.Code
	}
	inMemory := false
	if g := a.groups.lookup(name); g != nil {
		var members int
		if g.do(func() {
			members = len(g.members)
			if g.hasConsumers() {
				members += len(g.cg.members)
			}
			if members == 0 {
				a.groups.dropDeleted(g)
			}
		}) {
			if members > 0 {
				return kerr.NonEmptyGroup.Code
			}
			inMemory = true
		}
	}
	var hasOffsets bool
	a.journal.View(func(s *journal.State) { _, hasOffsets = s.Groups[name] })
	if !hasOffsets {
		if inMemory {
			return 0
		}
		return kerr.GroupIDNotFound.Code
	}
	claim, code := a.claimGroup(ctx, name)
	if code != 0 {
		return code
	}
	res, code := a.submit(ctx, journal.Command{DeleteGroupOffsets: &journal.DeleteGroupOffsets{Group: name, Claim: claim}})
	if code != 0 {
		return code
	}
	if res[0].Code == kerr.GroupIDNotFound.Code && inMemory {
		return 0
	}
	return res[0].Code
}

// dropDeleted removes an empty group from memory, as the idle timer does, so
// that a member joining later starts a new group. It runs on the group's
// goroutine, which ends once the function returns.
func (gs *groups) dropDeleted(g *group) {
	g.shutdown()
	if g.idle != nil {
		g.idle.Stop()
	}
	g.state = groupDead
	gs.mu.Lock()
	if gs.mu.groups[g.name] == g {
		delete(gs.mu.groups, g.name)
		close(g.quit)
	}
	gs.mu.Unlock()
}
