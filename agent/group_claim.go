package agent

import (
	"context"
	"sync"

	"github.com/silt-io/silt/journal"
)

// Group claims: the journal's word on which agent coordinates a group.
//
// Gossip names a group's coordinator, but two agents may both believe they
// do while the membership changes. Before an agent acts as a group's
// coordinator — a join, a KIP-848 heartbeat, an offset commit or fetch —
// it holds a claim on the group in the journal (journal.ClaimGroup), and
// every offset commit it proposes carries the claim, which the journal
// refuses once another agent has claimed the group since. An agent that
// sees its claim superseded drops the group; its members, refused with
// NOT_COORDINATOR, find the new coordinator. See journal/apply_groups.go.

// groupClaims are the claims this agent holds.
type groupClaims struct {
	// mu serialises claiming, so concurrent requests for a group claim
	// it once; claims are rare (a group's first request here).
	mu   sync.Mutex
	held map[string]journal.GroupClaim // guarded by mu
}

// claimGroup returns this agent's claim on group, claiming it through the
// journal unless the claim it holds is still the group's latest. The code
// is non-zero if the journal could not be written.
func (a *Agent) claimGroup(ctx context.Context, group string) (*journal.GroupClaim, int16) {
	cl := &a.claims
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c, ok := cl.held[group]; ok {
		if a.claimCurrent(group, c) {
			return &c, 0
		}
		delete(cl.held, group)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CommitTimeout)
	defer cancel()
	res, code := a.submit(ctx, journal.Command{ClaimGroup: &journal.ClaimGroup{Group: group, Coordinator: a.cfg.NodeName}})
	if code == 0 {
		code = res[0].Code
	}
	if code != 0 {
		return nil, code
	}
	c := *res[0].Claim
	if cl.held == nil {
		cl.held = map[string]journal.GroupClaim{}
	}
	cl.held[group] = c
	return &c, 0
}

// groupClaimFor returns the claim a group that is not in memory starts
// under: the claim this agent holds if it is still the latest, else a new
// one. A group in memory keeps the claim it started under.
func (a *Agent) groupClaimFor(ctx context.Context, group string) (journal.GroupClaim, int16) {
	if g := a.groups.lookup(group); g != nil {
		return g.claim, 0
	}
	c, code := a.claimGroup(ctx, group)
	if code != 0 {
		return journal.GroupClaim{}, code
	}
	return *c, 0
}

// claimCurrent reports whether c is still the group's latest claim.
func (a *Agent) claimCurrent(group string, c journal.GroupClaim) bool {
	current := false
	a.journal.View(func(s *journal.State) {
		latest, ok := s.GroupClaim(group)
		current = ok && latest == c
	})
	return current
}

// watchClaims drops the groups in memory whose claims another agent has
// superseded, as journal entries arrive: their members are told
// NOT_COORDINATOR and look for the group again.
func (a *Agent) watchClaims() {
	for {
		changed := a.journal.Changed()
		lost := map[string]bool{}
		for _, g := range a.groups.all() {
			if !a.claimCurrent(g.name, g.claim) {
				lost[g.name] = true
				a.log.Info("another agent claimed the group; letting it go", "group", g.name)
			}
		}
		if len(lost) > 0 {
			a.groups.release(func(name string) bool { return lost[name] })
		}
		select {
		case <-changed:
		case <-a.ctx.Done():
			return
		}
	}
}

// freshGroupOffsets makes sure this agent has applied every offset commit
// of group that any coordinator acknowledged, before it serves them. A
// group in memory under the latest claim has had every commit since its
// claim made here, and the claim entry was applied after every earlier
// one. Otherwise the group may have moved here a moment ago, its last
// commits in entries not applied here yet: reading the journal to its end
// finds them.
func (a *Agent) freshGroupOffsets(group string) {
	if g := a.groups.lookup(group); g != nil && a.claimCurrent(group, g.claim) {
		return
	}
	a.catchUpJournal()
}
