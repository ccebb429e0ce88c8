package sharegroups

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// durableAgent starts a service named name on c's journal with durable
// membership; it coordinates the group while c.owner names it.
func (c *cluster) durableAgent(name string) *Service {
	owns := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.owner == name }
	s := New(Env{Clock: c.clock, NodeName: name, Journal: c.log, Submit: c.log.submit, Read: c.log.read,
		OwnsGroup: func(string) bool { return owns() }, OwnsPartition: func(string, int32) bool { return owns() },
		CatchUp: func(context.Context) error { return nil },
		Claim:   c.log.Claimer(name)})
	c.t.Cleanup(s.Close)
	c.mu.Lock()
	c.owner = name
	c.mu.Unlock()
	return s
}

// With durable membership, a coordinator that takes a share group over
// resumes its members: they heartbeat at their epochs and keep their
// assignments; a member's leave there is stored for the next one.
func TestShareMembershipSurvivesCoordinatorMove(t *testing.T) {
	c := newCluster(t, 4)
	first := c.durableAgent("agent-a")
	m1, m2 := c.consumer("m1"), c.consumer("m2")
	if r := m1.heartbeat(first, 0); r.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(r.ErrorCode))
	}
	m2.heartbeat(first, 0)
	m1.heartbeat(first, m1.member) // takes the epoch m2's join made
	before := first.Describe("g", false)
	if len(before.Members) != 2 {
		t.Fatalf("members %+v", before.Members)
	}

	second := c.durableAgent("agent-b")
	first.MembershipChanged()
	for _, m := range []*consumer{m1, m2} {
		epoch := m.member
		if r := m.heartbeat(second, epoch); r.ErrorCode != 0 || m.member != epoch {
			t.Fatalf("%s at the new coordinator: %v, epoch %d (was %d)", m.id, kerr.ErrorForCode(r.ErrorCode), m.member, epoch)
		}
	}
	after := second.Describe("g", false)
	if after.GroupEpoch != before.GroupEpoch || len(after.Members) != 2 {
		t.Fatalf("resumed epoch %d (was %d), %d members", after.GroupEpoch, before.GroupEpoch, len(after.Members))
	}
	for i := range after.Members {
		if len(after.Members[i].Assignment.TopicPartitions) != 1 || len(after.Members[i].Assignment.TopicPartitions[0].Partitions) != 2 {
			t.Fatalf("member %s assignment %+v", after.Members[i].MemberID, after.Members[i].Assignment)
		}
	}
	if r := m2.heartbeat(second, -1); r.ErrorCode != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	third := c.durableAgent("agent-c")
	second.MembershipChanged()
	if d := third.Describe("g", false); len(d.Members) != 1 || d.Members[0].MemberID != "m1" {
		t.Fatalf("third coordinator resumed %+v", d.Members)
	}
	if r := m2.heartbeat(third, m2.member); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("the member that left: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

// A store that cannot be written fails the heartbeat (NOT_COORDINATOR)
// and drops the group from memory, to be resumed as stored.
func TestShareMembershipFailedStore(t *testing.T) {
	c := newCluster(t, 2)
	s := c.durableAgent("agent-a")
	m1, m2 := c.consumer("m1"), c.consumer("m2")
	m1.heartbeat(s, 0)
	c.log.SetDown(true)
	if r := m2.heartbeat(s, 0); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join with the journal down: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	c.log.SetDown(false)
	if d := s.Describe("g", false); len(d.Members) != 1 || d.Members[0].MemberID != "m1" {
		t.Fatalf("resumed %+v", d.Members)
	}
}
