package journal

import "github.com/twmb/franz-go/pkg/kerr"

// Group coordinator claims.
//
// A consumer group's membership lives in one agent's memory, the group's
// coordinator, chosen by gossip. While the membership changes, two agents
// may both believe they coordinate a group for a moment, and each could
// run a generation of its own whose members commit offsets: a commit from
// the stale one would move the group's offsets backwards.
//
// The journal decides instead. An agent that starts coordinating a group
// claims it first (ClaimGroup), which gives it the next claim epoch; every
// offset commit it proposes carries that claim, and Apply refuses, with
// NOT_COORDINATOR, a commit whose claim is not the group's latest. So once
// a new coordinator has claimed the group, nothing the old one accepts can
// reach the group's offsets, and the old one learns from the refusal (and
// from the claim entry itself) that it must let the group go. Since every
// commit the old coordinator acknowledged lies in an entry before the
// claim, the new coordinator, having applied its claim, serves them all.

// GroupClaim is a coordinator's claim on a group.
type GroupClaim struct {
	Coordinator string `json:"coordinator"` // the agent's node name
	Epoch       int64  `json:"epoch"`       // increases with every claim of the group
}

// ClaimGroup makes Coordinator the group's coordinator, with the next
// epoch. The result's Claim is the claim made.
type ClaimGroup struct {
	Group       string `json:"group"`
	Coordinator string `json:"coordinator"`
}

func (s *State) claimGroup(c *ClaimGroup) Result {
	if c.Group == "" || c.Coordinator == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	claim := GroupClaim{Coordinator: c.Coordinator, Epoch: s.GroupClaims[c.Group].Epoch + 1}
	s.GroupClaims[c.Group] = claim
	return Result{Claim: &claim}
}

// claimHolds reports whether a command made under claim may change the
// group: claim is the group's latest, or the command carries none (tools
// that act on the bucket directly).
func (s *State) claimHolds(group string, claim *GroupClaim) bool {
	return claim == nil || s.GroupClaims[group] == *claim
}

// GroupClaim returns the group's latest claim, if it was ever claimed.
func (s *State) GroupClaim(group string) (GroupClaim, bool) {
	c, ok := s.GroupClaims[group]
	return c, ok
}
