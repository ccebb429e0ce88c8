package groups

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/journal"
)

var notCoordinator = kerr.NotCoordinator.Code

// claims are the journal claims this agent holds (see the package doc).
// Claiming is serialised per group, so concurrent requests for a group
// claim it once, while requests for other groups go on.
type claims struct {
	mu    sync.Mutex
	held  map[string]journal.GroupClaim // guarded by mu
	locks map[string]*claimLock         // guarded by mu; present while in use
}

type claimLock struct {
	sync.Mutex
	users int // guarded by claims.mu
}

// lockGroup serialises claiming of one group; call the returned function
// to unlock.
func (cl *claims) lockGroup(group string) func() {
	cl.mu.Lock()
	l := cl.locks[group]
	if l == nil {
		l = &claimLock{}
		cl.locks[group] = l
	}
	l.users++
	cl.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		cl.mu.Lock()
		if l.users--; l.users == 0 {
			delete(cl.locks, group)
		}
		cl.mu.Unlock()
	}
}

// claim returns this agent's claim on group, claiming it through the
// journal unless the claim it holds is still the group's latest. The code
// is non-zero if the journal could not be written.
func (c *Coordinator) claim(ctx context.Context, group string) (journal.GroupClaim, int16) {
	cl := &c.claims
	defer cl.lockGroup(group)()
	cl.mu.Lock()
	held, ok := cl.held[group]
	cl.mu.Unlock()
	if ok && c.claimCurrent(group, held) {
		return held, 0
	}
	ctx, cancel := context.WithTimeout(ctx, c.env.CommitTimeout)
	defer cancel()
	res, code := c.env.Submit(ctx, journal.Command{ClaimGroup: &journal.ClaimGroup{Group: group, Coordinator: c.env.NodeName}})
	if code == 0 {
		code = res[0].Code
	}
	if code != 0 {
		return journal.GroupClaim{}, code
	}
	made := *res[0].Claim
	cl.mu.Lock()
	cl.held[group] = made
	cl.mu.Unlock()
	return made, 0
}

// Claim returns this agent's claim on a group, claiming it through the
// journal unless the claim it holds is the latest. Streams groups
// (agent/streamsgroups) store their membership under the same claim as
// the group's offset commits, so the two never fence each other.
func (c *Coordinator) Claim(ctx context.Context, group string) (journal.GroupClaim, int16) {
	return c.claim(ctx, group)
}

// claimFor returns the claim a group that is not in memory starts under:
// the claim this agent holds if it is still the latest, else a new one. A
// group in memory keeps the claim it started under.
func (c *Coordinator) claimFor(ctx context.Context, group string) (journal.GroupClaim, int16) {
	if g := c.lookup(group); g != nil {
		return g.claim, 0
	}
	return c.claim(ctx, group)
}

// claimCurrent reports whether claim is still the group's latest.
func (c *Coordinator) claimCurrent(group string, claim journal.GroupClaim) bool {
	current := false
	c.env.Journal.View(func(s *journal.State) {
		latest, ok := s.GroupClaim(group)
		current = ok && latest == claim
	})
	return current
}

// watchClaims lets go of the groups in memory whose claims another agent
// has superseded, as journal entries arrive: their members are told
// NOT_COORDINATOR and look for the group again.
func (c *Coordinator) watchClaims(ctx context.Context) {
	for {
		changed := c.env.Journal.Changed()
		lost := map[string]bool{}
		for _, g := range c.all() {
			if !c.claimCurrent(g.name, g.claim) {
				lost[g.name] = true
				c.log.Info("another agent claimed the group; letting it go", "group", g.name)
			}
		}
		if len(lost) > 0 {
			c.release(func(name string) bool { return lost[name] })
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// freshOffsets makes sure this agent has applied every offset commit of
// group that any coordinator acknowledged, before it serves them. A group
// in memory under the latest claim has had every commit since its claim
// made here, and the claim entry was applied after every earlier one.
// Otherwise the group may have moved here a moment ago, its last commits in
// entries not applied here yet: reading the journal to its end finds them.
func (c *Coordinator) freshOffsets(ctx context.Context, group string) {
	if g := c.lookup(group); g != nil && c.claimCurrent(group, g.claim) {
		return
	}
	if _, err := c.env.Journal.CatchUp(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("journal catch-up failed", "err", err)
	}
}
