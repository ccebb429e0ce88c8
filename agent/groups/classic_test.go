package groups

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A classic group whose coordinator moves is resumed by the new one from
// the journal: members' heartbeats and commits with the generation they
// hold carry on, nobody rejoins, and the old coordinator can no longer
// commit.
func TestClassicGroupSurvivesCoordinatorMove(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 2})
	a := c.agent("a")
	m1, m2 := &classic{}, &classic{}
	stableClassicGroup(t, a, "g", m1, m2)
	if err := m1.commit(t, a, 10); err != nil {
		t.Fatalf("commit at the first coordinator: %v", err)
	}
	stored := c.stored("g")
	if stored == nil || len(stored.Classic.Members) != 2 || stored.Classic.Generation != m1.generation {
		t.Fatalf("the completed generation was not stored: %+v", stored)
	}

	b := c.moveTo("b")
	for _, m := range []*classic{m1, m2} {
		if err := m.heartbeat(t, b); err != nil {
			t.Errorf("heartbeat at the new coordinator: %v, want none", err)
		}
	}
	if st, gen := stateOf(t, b, "g"); st != groupStable || gen != m1.generation {
		t.Errorf("the new coordinator has the group %s at generation %d, want Stable at %d", st, gen, m1.generation)
	}
	if err := m2.commit(t, b, 20); err != nil {
		t.Errorf("commit at the new coordinator: %v", err)
	}
	if resp := m2.sync(t, b, nil); resp.ErrorCode != 0 || !bytes.Equal(resp.MemberAssignment, []byte("a1")) {
		t.Errorf("a stable member's SyncGroup at the new coordinator: %v, assignment %q", kerr.ErrorForCode(resp.ErrorCode), resp.MemberAssignment)
	}
	// The old coordinator let the group go; had it not, the journal
	// would refuse its commits.
	if err := m1.commit(t, a, 5); !errIs(err, kerr.NotCoordinator) {
		t.Errorf("commit at the old coordinator: %v, want NOT_COORDINATOR", err)
	}
}

// A member is given a new coordinator's full session timeout, and one that
// stops heartbeating there is removed when it runs out, which rebalances
// the rest.
func TestResumedSessionsExpire(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 2})
	m1, m2 := &classic{}, &classic{}
	stableClassicGroup(t, c.agent("a"), "g", m1, m2)
	c.advance(8 * time.Second)
	b := c.moveTo("b")
	if err := m1.heartbeat(t, b); err != nil {
		t.Fatalf("heartbeat after the move: %v", err)
	}
	// 8 s into a 10 s session before the move; the new coordinator's
	// session for m2 started at its resume.
	c.advance(5 * time.Second)
	if err := m2.heartbeat(t, b); err != nil {
		t.Fatalf("m2's session ended before its own timeout at the new coordinator: %v", err)
	}
	if err := m1.heartbeat(t, b); err != nil {
		t.Fatal(err)
	}
	c.advance(11 * time.Second) // m1 stays silent; m2 too, but rejoins below
	if err := m1.heartbeat(t, b); !errIs(err, kerr.UnknownMemberID) {
		t.Errorf("heartbeat after the session ran out: %v, want UNKNOWN_MEMBER_ID", err)
	}
	if st, _ := stateOf(t, b, "g"); st != groupEmpty {
		t.Errorf("group state %s after both sessions ran out, want Empty", st)
	}
	// The store runs beside the group: wait for it.
	eventually(t, func() bool { m := c.stored("g"); return m != nil && len(m.Classic.Members) == 0 },
		"the empty group was not stored empty: %+v", func() any { return c.stored("g") })
}

// A static member (KIP-345) that restarts and joins with its instance id
// and no member id takes its old place in a Stable group: a new member id,
// the same generation and assignment, and no rebalance for the others.
// The member it replaced is fenced with FENCED_INSTANCE_ID, so the old
// process stops instead of rejoining and fencing the new one.
func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 2})
	a := c.agent("a")
	i1, i2 := "instance-1", "instance-2"
	m1, m2 := &classic{instance: &i1}, &classic{instance: &i2}
	stableClassicGroup(t, a, "g", m1, m2)
	old := *m2
	restarted := &classic{group: "g", instance: &i2}
	resp := restarted.joined(t, restarted.startJoin(t, a))
	if resp.ErrorCode != 0 || resp.Generation != m1.generation || resp.MemberID == old.memberID {
		t.Fatalf("rejoin: %v generation %d member %q; want the current generation %d under a new id",
			kerr.ErrorForCode(resp.ErrorCode), resp.Generation, resp.MemberID, m1.generation)
	}
	if st, gen := stateOf(t, a, "g"); st != groupStable || gen != m1.generation {
		t.Errorf("group %s at generation %d after the rejoin; want Stable at %d", st, gen, m1.generation)
	}
	if err := m1.heartbeat(t, a); err != nil {
		t.Errorf("the other member's heartbeat: %v (a rebalance?)", err)
	}
	if s := restarted.sync(t, a, nil); s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, []byte("a1")) {
		t.Errorf("the returning member's sync: %v assignment %q, want its old one", kerr.ErrorForCode(s.ErrorCode), s.MemberAssignment)
	}
	if err := old.heartbeat(t, a); !errIs(err, kerr.FencedInstanceID) {
		t.Errorf("the replaced member's heartbeat: %v, want FENCED_INSTANCE_ID", err)
	}
	if s := old.sync(t, a, nil); !errIs(kerr.ErrorForCode(s.ErrorCode), kerr.FencedInstanceID) {
		t.Errorf("the replaced member's sync: %v, want FENCED_INSTANCE_ID", kerr.ErrorForCode(s.ErrorCode))
	}
	if err := old.commit(t, a, 3); !errIs(err, kerr.FencedInstanceID) {
		t.Errorf("the replaced member's commit: %v, want FENCED_INSTANCE_ID", err)
	}
	eventually(t, func() bool { m := c.stored("g"); return m != nil && m.Classic.Members[1].ID == restarted.memberID },
		"the replacement was not stored: %+v", func() any { return c.stored("g") })
}

// Commits with generation -1 come from outside the group: they are taken
// whatever member id they carry while the group has no members or does not
// exist, and refused once it has members.
func TestSimpleCommits(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 1})
	a := c.agent("a")
	for _, tc := range []struct {
		name     string
		group    string
		memberID string
		want     error
	}{
		{"a group that does not exist, no member id", "new-1", "", nil},
		{"a group that does not exist, a member id", "new-2", "librdkafka-member", nil},
		{"an existing empty group, a member id", "new-2", "another", nil},
	} {
		if err := commit(t, a, tc.group, tc.memberID, nil, -1, 7); !errIs(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	m := &classic{}
	stableClassicGroup(t, a, "busy", m)
	if err := commit(t, a, "busy", "", nil, -1, 7); !errIs(err, kerr.UnknownMemberID) {
		t.Errorf("generation -1 into a group with members: %v, want UNKNOWN_MEMBER_ID", err)
	}
	if err := commit(t, a, "busy", m.memberID, nil, 99, 7); !errIs(err, kerr.IllegalGeneration) {
		t.Errorf("a member at a wrong generation: %v, want ILLEGAL_GENERATION", err)
	}
	if err := commit(t, a, "nobody", "x", nil, 3, 7); !errIs(err, kerr.IllegalGeneration) {
		t.Errorf("a generation of a group that does not exist: %v, want ILLEGAL_GENERATION", err)
	}
}

// When the journal cannot take the completed generation, the members are
// not given assignments nobody could resume: SyncGroup fails with
// COORDINATOR_NOT_AVAILABLE and the group rebalances.
func TestSyncWaitsForTheStore(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 1})
	a := c.agent("a")
	m := &classic{group: "g"}
	ch := m.join(t, a)
	c.advance(initialDelay)
	resp := m.joined(t, ch)
	if resp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(resp.ErrorCode))
	}
	c.journal.setDown(true)
	s := m.sync(t, a, map[*classic][]byte{m: []byte("x")})
	if !errIs(kerr.ErrorForCode(s.ErrorCode), kerr.CoordinatorNotAvailable) {
		t.Errorf("sync with the journal down: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(s.ErrorCode))
	}
	if st, _ := stateOf(t, a, "g"); st != groupPreparingRebalance {
		t.Errorf("group %s after the failed store, want PreparingRebalance", st)
	}
	c.journal.setDown(false)
}

// A follower that joins again with the metadata it had (its client lost
// its session, say, to a coordinator that died) is given the current
// generation without a rebalance, as Kafka does; the leader doing the same
// starts one, as on Kafka.
func TestUnchangedRejoin(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 2})
	a := c.agent("a")
	m1, m2 := &classic{}, &classic{}
	stableClassicGroup(t, a, "g", m1, m2)
	_, gen := stateOf(t, a, "g")
	leader, follower := m1, m2
	if resp := m1.sync(t, a, nil); resp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(resp.ErrorCode))
	}
	var lead string
	a.lookup("g").do(func() { lead = a.lookup("g").leader })
	if lead != m1.memberID {
		leader, follower = m2, m1
	}
	resp := follower.joined(t, follower.startJoin(t, a))
	if resp.ErrorCode != 0 || resp.Generation != gen {
		t.Fatalf("the follower's rejoin: %v generation %d, want the current %d", kerr.ErrorForCode(resp.ErrorCode), resp.Generation, gen)
	}
	if st, g2 := stateOf(t, a, "g"); st != groupStable || g2 != gen {
		t.Errorf("group %s at %d after the follower's rejoin; want Stable at %d", st, g2, gen)
	}
	if err := leader.heartbeat(t, a); err != nil {
		t.Errorf("the leader's heartbeat after the follower's rejoin: %v", err)
	}
	leader.startJoin(t, a)
	if st, _ := stateOf(t, a, "g"); st != groupPreparingRebalance {
		t.Errorf("group %s after the leader's rejoin; want PreparingRebalance", st)
	}
}
