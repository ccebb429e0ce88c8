package journal

import "testing"

// A proposal resent after an ambiguous failure is applied once: the repeat
// gets the first outcome, and the partition does not grow.
func TestResentProposalIsAppliedOnce(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 1))[0].TopicID

	first := commit("t", id, 0, plain(3))
	first.ID = "agent-a/1"
	other := commit("t", id, 0, plain(2))
	other.ID = "agent-b/1"
	r := applyAll(t, s, first, other, first)

	if got := r[2].Chunks[0][0].BaseOffset; got != 0 {
		t.Errorf("resent proposal got offset %d, want the first outcome, 0", got)
	}
	if got := r[1].Chunks[0][0].BaseOffset; got != 3 {
		t.Errorf("other proposal got offset %d, want 3", got)
	}
	if p := s.Partition("t", 0); p.NextOffset != 5 || len(p.Chunks) != 2 {
		t.Fatalf("partition after a resent proposal = next %d, %d chunks; want 5 and 2", p.NextOffset, len(p.Chunks))
	}
	if o, ok := s.Proposal("agent-a/1"); !ok || o.Seq != 2 {
		t.Errorf("Proposal(agent-a/1) = %+v, %v; want applied in entry 2", o, ok)
	}
}

// Outcomes are forgotten after the window, so the state does not grow
// without bound; a command without an ID is never remembered.
func TestProposalOutcomesExpire(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 1))[0].TopicID
	c := commit("t", id, 0, plain(1))
	c.ID = "agent-a/7"
	applyAll(t, s, c, commit("t", id, 0, plain(1)))
	if len(s.Proposals) != 1 {
		t.Fatalf("%d outcomes remembered, want 1", len(s.Proposals))
	}
	later := &Entry{Version: EntryVersion, Seq: s.Seq + 1, Time: s.Time + ProposalWindowMs + proposalExpiryIntervalMs + 1,
		Commands: []Command{create("u", 1)}}
	if _, err := s.Apply(later); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Proposal("agent-a/7"); ok {
		t.Fatal("outcome still remembered after the window")
	}
}
