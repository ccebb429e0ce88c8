package streamsgroups

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/memjournal"
	"github.com/silt-io/silt/journal"
)

// durableHarness is coordinators of streams groups on one journal kept in
// memory; owner names the one gossip makes the group's coordinator.
type durableHarness struct {
	*harness
	journal *memjournal.Journal
	mu      sync.Mutex
	owner   string
}

func newDurableHarness(t *testing.T, topics fakeTopics) *durableHarness {
	h := &durableHarness{harness: newHarness(t, topics)}
	h.journal = memjournal.New(h.clock)
	h.s.Close()
	h.s = h.coordinator("agent-a")
	h.owner = "agent-a"
	return h
}

// coordinator starts a coordinator named node; it owns the group while
// h.owner names it.
func (h *durableHarness) coordinator(node string) *Service {
	s := New(Env{
		Clock: h.clock, Topics: h.topics, CreateTopics: h.harness.s.env.CreateTopics,
		OwnsGroup: func(string) bool { h.mu.Lock(); defer h.mu.Unlock(); return h.owner == node },
		Journal:   h.journal, Submit: h.journal.Submit,
		Claim: h.journal.Claimer(node),
	})
	h.t.Cleanup(s.Close)
	return s
}

// moveTo makes node the coordinator, as gossip does when one leaves.
func (h *durableHarness) moveTo(node string, from *Service) *Service {
	h.mu.Lock()
	h.owner = node
	h.mu.Unlock()
	from.MembershipChanged()
	next := h.coordinator(node)
	h.s = next
	return next
}

// A coordinator that takes a group over resumes it from the journal: its
// members go on at the same epochs with the same tasks, no rebalance; a
// member that expires there is gone for the next coordinator too; the
// coordinator that lost the group can no longer store it.
func TestCoordinatorMoveKeepsMembersAndTasks(t *testing.T) {
	h := newDurableHarness(t, fakeTopics{"in": 3})
	a, b := h.twoStable()
	before := h.s.Describe("app")
	aTasks, bTasks, aEpoch, bEpoch := a.owned, b.owned, a.epoch, b.epoch
	old := h.s

	h.moveTo("agent-b", old)
	if resp := h.beat(a); resp.ErrorCode != 0 || a.epoch != aEpoch || !a.owned.equal(aTasks) {
		t.Fatalf("after the move: %v, epoch %d (was %d), tasks %v (were %v)",
			kerr.ErrorForCode(resp.ErrorCode), a.epoch, aEpoch, a.owned.sorted(), aTasks.sorted())
	}
	if resp := h.beat(b); resp.ErrorCode != 0 || b.epoch != bEpoch || !b.owned.equal(bTasks) {
		t.Fatalf("b after the move: %v epoch %d tasks %v", kerr.ErrorForCode(resp.ErrorCode), b.epoch, b.owned.sorted())
	}
	if d := h.moveTo("agent-b2", h.s).Describe("app"); d.State != "Stable" || d.Topology == nil || len(d.Topology.Subtopologies) != 2 {
		t.Fatalf("described at once by the next coordinator: state %s, topology %+v", d.State, d.Topology)
	}
	after := h.s.Describe("app")
	if after.State != "Stable" || after.Epoch != before.Epoch || len(after.Members) != 2 {
		t.Fatalf("after the move: state %s epoch %d (was %d), %d members", after.State, after.Epoch, before.Epoch, len(after.Members))
	}
	if known, code := h.s.CheckMember("app", "a", aEpoch); !known || code != 0 {
		t.Fatalf("commit at the member's epoch after the move: %v %v", known, kerr.ErrorForCode(code))
	}

	// b goes silent at the new coordinator; its removal is stored (in
	// the background: wait for it).
	for range 10 {
		h.clock.Advance(5 * time.Second)
		h.beat(a)
	}
	if len(a.owned) != 6 {
		t.Fatalf("a has %v after b expired", a.owned.sorted())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		members := 0
		h.journal.View(func(js *journal.State) { members = len(js.StreamsGroups["app"].Members) })
		if members == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b's removal not stored: %d members", members)
		}
	}
	third := h.moveTo("agent-c", h.s)
	if d := third.Describe("app"); len(d.Members) != 1 || d.Members[0].MemberID != "a" {
		t.Fatalf("third coordinator resumed %+v", d.Members)
	}
	if resp := h.beat(a); resp.ErrorCode != 0 || len(a.owned) != 6 {
		t.Fatalf("at the third coordinator: %v, %v", kerr.ErrorForCode(resp.ErrorCode), a.owned.sorted())
	}

	if known, code := third.DeleteGroup(context.Background(), "app"); !known || code != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete with a member: %v %v", known, kerr.ErrorForCode(code))
	}
	a.epoch = -1
	h.beat(a)
	if known, code := third.DeleteGroup(context.Background(), "app"); !known || code != 0 {
		t.Fatalf("delete: %v %v", known, kerr.ErrorForCode(code))
	}
	h.journal.View(func(js *journal.State) {
		if js.StreamsGroups["app"] != nil {
			t.Error("the deleted group is still stored")
		}
	})
}

// A store that fails (the journal unreachable) fails the heartbeat with
// NOT_COORDINATOR, and the group leaves memory: the member's next
// heartbeat resumes it as last stored, the change that was not stored
// undone.
func TestFailedStoreLetsGroupGo(t *testing.T) {
	h := newDurableHarness(t, fakeTopics{"in": 3})
	a := &hbm{id: "a", process: "p1"}
	h.beat(a)
	stored := a.epoch
	h.journal.SetDown(true)
	b := &hbm{id: "b", process: "p2"}
	if resp := h.beat(b); resp.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join with the journal down: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	h.journal.SetDown(false)
	if d := h.s.Describe("app"); len(d.Members) != 1 || d.Epoch != stored {
		t.Fatalf("resumed %d members at epoch %d, want a alone at %d", len(d.Members), d.Epoch, stored)
	}
	if resp := h.beat(a); resp.ErrorCode != 0 || a.epoch != stored || len(a.owned) != 6 {
		t.Fatalf("a after the failed store: %v epoch %d tasks %v", kerr.ErrorForCode(resp.ErrorCode), a.epoch, a.owned.sorted())
	}
}
