package journal

// Proposals that may arrive twice.
//
// An agent that is not the committer sends its commands to the committer
// over RPC. If the committer dies, or the reply is lost, the proposer cannot
// know whether its commands reached the journal, and it must not give up:
// a produce waits on them. It resends them, to whichever agent is committer
// now, with the same IDs. Apply remembers the outcome of every command that
// carries an ID for ProposalWindowMs of entry time, and answers a repeat
// with the first outcome without applying it again. So a segment's chunks
// get their offsets once, and the retry learns which.
//
// The window only has to outlast a proposer's retries, which end with its
// commit timeout (30s by default); remembering longer costs state size.

// ProposalWindowMs is how long (entry time) the outcome of a command with an
// ID is remembered.
const ProposalWindowMs = 5 * 60 * 1000

// proposalExpiryIntervalMs is how often Apply prunes old outcomes.
const proposalExpiryIntervalMs = 10 * 1000

// ProposalOutcome is the remembered outcome of a command with an ID.
type ProposalOutcome struct {
	Time   int64  `json:"time"` // entry time it was applied at
	Seq    uint64 `json:"seq"`  // entry it was applied in
	Result Result `json:"result"`
}

// applyOnce applies c unless a command with its ID was applied before, in
// which case it returns that command's outcome.
func (s *State) applyOnce(c *Command) Result {
	if c.ID == "" {
		return s.apply(c)
	}
	if o, ok := s.Proposals[c.ID]; ok {
		return o.Result
	}
	r := s.apply(c)
	s.Proposals[c.ID] = ProposalOutcome{Time: s.Time, Seq: s.Seq, Result: r}
	return r
}

// Proposal returns the remembered outcome of the command with id, if it was
// applied within the window.
func (s *State) Proposal(id string) (ProposalOutcome, bool) {
	o, ok := s.Proposals[id]
	return o, ok
}

func (s *State) expireProposals() {
	if s.Time-s.LastProposalExpiry < proposalExpiryIntervalMs {
		return
	}
	s.LastProposalExpiry = s.Time
	for id, o := range s.Proposals {
		if s.Time-o.Time > ProposalWindowMs {
			delete(s.Proposals, id)
		}
	}
}
