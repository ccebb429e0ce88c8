package groups

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// kmember is a KIP-848 member: it heartbeats, and owns what it was
// assigned (confirming revocations on its next heartbeat).
type kmember struct {
	group, id string
	instance  *string
	epoch     int32
	owned     []kmsg.ConsumerGroupHeartbeatRequestTopic
}

func (m *kmember) heartbeat(t *testing.T, c *cluster, co *Coordinator, edit func(r *kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = m.group, m.id, m.epoch, m.instance
	r.RebalanceTimeoutMillis = 30_000
	if m.epoch == 0 {
		r.SubscribedTopicNames = []string{"t"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	} else {
		r.Topics = m.owned
	}
	if edit != nil {
		edit(r)
	}
	resp := co.ConsumerHeartbeat(ctxT(t), r, "client", "/127.0.0.1", "User:ANONYMOUS")
	if resp.ErrorCode == 0 {
		if resp.MemberID != nil {
			m.id = *resp.MemberID
		}
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = nil
			for _, at := range resp.Assignment.Topics {
				m.owned = append(m.owned, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: at.TopicID, Partitions: at.Partitions})
			}
		}
	}
	return resp
}

func (m *kmember) partitions() int {
	n := 0
	for _, t := range m.owned {
		n += len(t.Partitions)
	}
	return n
}

// stableConsumerGroup has members heartbeat until the group is Stable.
func stableConsumerGroup(t *testing.T, c *cluster, co *Coordinator, members ...*kmember) {
	t.Helper()
	for range 10 {
		for _, m := range members {
			if resp := m.heartbeat(t, c, co, nil); resp.ErrorCode != 0 {
				t.Fatalf("heartbeat: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
		}
		var state string
		co.lookup(members[0].group).do(func() { state = co.lookup(members[0].group).consumerState() })
		if state == "Stable" {
			return
		}
	}
	t.Fatal("the group never became Stable")
}

func newID(t *testing.T) string { return newMemberID("m") }

// A KIP-848 group whose coordinator moves carries on at the new one: the
// same epochs and assignments, heartbeats and commits accepted, and a
// stale epoch still fenced.
func TestConsumerGroupSurvivesCoordinatorMove(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 4})
	a := c.agent("a")
	m1, m2 := &kmember{group: "g", id: newID(t)}, &kmember{group: "g", id: newID(t)}
	stableConsumerGroup(t, c, a, m1, m2)
	if m1.partitions() != 2 || m2.partitions() != 2 {
		t.Fatalf("assignment %d/%d, want 2/2", m1.partitions(), m2.partitions())
	}
	epochs := []int32{m1.epoch, m2.epoch}
	owned := [][]kmsg.ConsumerGroupHeartbeatRequestTopic{m1.owned, m2.owned}
	if err := commit(t, a, "g", m1.id, nil, m1.epoch, 4); err != nil {
		t.Fatalf("commit: %v", err)
	}

	b := c.moveTo("b")
	for i, m := range []*kmember{m1, m2} {
		resp := m.heartbeat(t, c, b, nil)
		// The new coordinator repeats the assignment once (it cannot
		// know the response that carried it arrived): the same one.
		if resp.ErrorCode != 0 || resp.MemberEpoch != epochs[i] {
			t.Errorf("heartbeat at the new coordinator: %v epoch %d, want the same epoch %d",
				kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch, epochs[i])
		}
		if !slices.EqualFunc(m.owned, owned[i], func(x, y kmsg.ConsumerGroupHeartbeatRequestTopic) bool {
			return x.TopicID == y.TopicID && slices.Equal(x.Partitions, y.Partitions)
		}) {
			t.Errorf("member %d's assignment changed across the move", i)
		}
	}
	if err := commit(t, b, "g", m2.id, nil, m2.epoch, 9); err != nil {
		t.Errorf("commit at the new coordinator: %v", err)
	}
	if err := commit(t, b, "g", m2.id, nil, m2.epoch-1, 9); !errIs(err, kerr.StaleMemberEpoch) {
		t.Errorf("commit with an older epoch at the new coordinator: %v, want STALE_MEMBER_EPOCH", err)
	}
	stale := *m1
	stale.epoch = m1.epoch + 5
	if resp := stale.heartbeat(t, c, b, nil); !errIs(kerr.ErrorForCode(resp.ErrorCode), kerr.FencedMemberEpoch) {
		t.Errorf("a heartbeat with an epoch the member never had: %v, want FENCED_MEMBER_EPOCH", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// A heartbeat that is refused changes nothing: the group keeps no member
// without a session, so a classic member can still join it and it can
// still be deleted.
func TestRefusedHeartbeatLeavesNoMember(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 1})
	a := c.agent("a")
	bad := "("
	for _, tc := range []struct {
		name string
		edit func(r *kmsg.ConsumerGroupHeartbeatRequest)
		want error
	}{
		{"an unknown server assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { s := "cooperative-magic"; r.ServerAssignor = &s }, kerr.UnsupportedAssignor},
		{"a regex that does not compile", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.SubscribedTopicNames = nil
			r.SubscribedTopicRegex = &bad
		}, kerr.InvalidRegularExpression},
		{"no subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest},
	} {
		m := &kmember{group: "g", id: newID(t)}
		if resp := m.heartbeat(t, c, a, tc.edit); !errIs(kerr.ErrorForCode(resp.ErrorCode), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(resp.ErrorCode), tc.want)
		}
		if g := a.lookup("g"); g != nil {
			n := 0
			g.do(func() { n = g.memberCount() })
			if n != 0 {
				t.Errorf("%s: the refused member stayed in the group", tc.name)
			}
		}
	}
	cm := &classic{group: "g"}
	ch := cm.join(t, a)
	c.advance(initialDelay)
	if resp := cm.joined(t, ch); resp.ErrorCode != 0 {
		t.Errorf("a classic join after the refusals: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// An instance id held by a live member cannot be taken by a new one
// (UNRELEASED_INSTANCE_ID); once the member leaves as a static member
// (epoch -2), the instance's next member takes its place with its epoch and
// assignment, and nothing is reassigned.
func TestStaticConsumerInstances(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 2})
	a := c.agent("a")
	i1 := "instance-1"
	m1, m2 := &kmember{group: "g", id: newID(t), instance: &i1}, &kmember{group: "g", id: newID(t)}
	stableConsumerGroup(t, c, a, m1, m2)
	epoch, owned := m1.epoch, m1.partitions()

	usurper := &kmember{group: "g", id: newID(t), instance: &i1}
	if resp := usurper.heartbeat(t, c, a, nil); !errIs(kerr.ErrorForCode(resp.ErrorCode), kerr.UnreleasedInstanceID) {
		t.Fatalf("joining with a live member's instance id: %v, want UNRELEASED_INSTANCE_ID", kerr.ErrorForCode(resp.ErrorCode))
	}
	leaving := *m1
	leaving.epoch = staticLeaveEpoch
	if resp := leaving.heartbeat(t, c, a, nil); resp.ErrorCode != 0 {
		t.Fatalf("static leave: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	back := &kmember{group: "g", id: newID(t), instance: &i1}
	resp := back.heartbeat(t, c, a, nil)
	if resp.ErrorCode != 0 || back.epoch != epoch || back.partitions() != owned {
		t.Errorf("the instance back: %v epoch %d with %d partitions; want epoch %d with %d",
			kerr.ErrorForCode(resp.ErrorCode), back.epoch, back.partitions(), epoch, owned)
	}
	if resp := m2.heartbeat(t, c, a, nil); resp.ErrorCode != 0 || resp.Assignment != nil {
		t.Errorf("the other member after the replacement: %v, assignment change %v", kerr.ErrorForCode(resp.ErrorCode), resp.Assignment)
	}
}

// Offsets of a group nobody is in expire once its newest commit is older
// than the retention; a group with members keeps its offsets however old,
// a streams group's (its members stored by agent/streamsgroups) too.
func TestGroupOffsetsExpire(t *testing.T) {
	c := newCluster(t, map[string]int32{"t": 1})
	a := c.agent("a")
	for _, g := range []string{"idle", "busy", "streams"} {
		if err := commit(t, a, g, "", nil, -1, 5); err != nil {
			t.Fatal(err)
		}
	}
	stableClassicGroup(t, a, "busy", &classic{})
	c.journal.submit(ctxT(t), journal.Command{StoreStreamsGroup: &journal.StoreStreamsGroup{Group: "streams", Version: 1,
		Meta: &journal.StreamsGroupMeta{Members: []journal.StreamsMember{{ID: "m", Process: "p", Epoch: 1}}}}})
	has := func(group string) bool {
		var ok bool
		c.journal.View(func(s *journal.State) { _, ok = s.Groups[group] })
		return ok
	}
	retention := a.env.OffsetsRetention
	a.ExpireOffsets(ctxT(t), c.clock.Now().Add(retention/2))
	if !has("idle") || !has("busy") {
		t.Fatal("offsets expired before the retention passed")
	}
	a.ExpireOffsets(ctxT(t), c.clock.Now().Add(retention+time.Hour))
	if has("idle") {
		t.Error("offsets of an empty group outlived the retention")
	}
	if !has("busy") {
		t.Error("offsets of a group with members expired")
	}
	if !has("streams") {
		t.Error("offsets of a streams group with members expired")
	}
}
