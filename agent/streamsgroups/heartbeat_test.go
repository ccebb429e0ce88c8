package streamsgroups

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
)

// harness is one coordinator on topics in memory, with a fake clock.
type harness struct {
	t      *testing.T
	s      *Service
	clock  *clock.Fake
	topics fakeTopics
	// refuse makes CreateTopics fail for these topics.
	refuse map[string]bool
	// configs are the group's configs.
	configs map[string]string
}

func newHarness(t *testing.T, topics fakeTopics) *harness {
	h := &harness{t: t, clock: clock.NewFake(time.Unix(1_700_000_000, 0)), topics: topics, refuse: map[string]bool{}, configs: map[string]string{}}
	h.s = New(Env{
		GroupConfigs: func(string) map[string]string { return h.configs },
		Clock:        h.clock, OwnsGroup: func(string) bool { return true }, Topics: h.topics,
		CreateTopics: func(_ context.Context, ts []NewTopic) map[string]string {
			errs := map[string]string{}
			for _, nt := range ts {
				if h.refuse[nt.Name] {
					errs[nt.Name] = "POLICY_VIOLATION"
					continue
				}
				h.topics[nt.Name] = nt.Partitions
			}
			return errs
		},
	})
	t.Cleanup(h.s.Close)
	return h
}

// hbm is a member as the test drives it: its id, process, epoch, and the
// tasks it reports holding (it holds what it was last sent).
type hbm struct {
	id, process string
	epoch       int32
	owned       taskSet
}

// beat heartbeats m, reporting its owned tasks; it takes the epoch and
// tasks of the response as the client would.
func (h *harness) beat(m *hbm) *kmsg.StreamsGroupHeartbeatResponse {
	h.t.Helper()
	r := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "app", m.id, m.epoch, 300000
	if m.epoch == 0 {
		r.Topology, r.ProcessID = wordCount(), &m.process
		m.owned = taskSet{}
	}
	r.ActiveTasks = m.owned.wire()
	resp := h.s.Heartbeat(context.Background(), r, "client-"+m.id, "/127.0.0.1")
	if resp.ErrorCode == 0 {
		m.epoch = resp.MemberEpoch
		if resp.ActiveTasks != nil {
			m.owned = setOf(resp.ActiveTasks)
		}
	}
	return resp
}

// exclusive fails the test if a task is held by two members at once.
func exclusive(t *testing.T, ms ...*hbm) {
	t.Helper()
	seen := map[taskID]string{}
	for _, m := range ms {
		for tk := range m.owned {
			if other, ok := seen[tk]; ok {
				t.Fatalf("task %v held by %s and %s", tk, other, m.id)
			}
			seen[tk] = m.id
		}
	}
}

func TestJoinCreatesInternalTopicsAndAssignsEverything(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a := &hbm{id: "a", process: "p1"}
	resp := h.beat(a)
	if resp.ErrorCode != 0 || len(resp.Status) != 0 {
		t.Fatalf("join: %+v", resp)
	}
	if h.topics["app-by-word-repartition"] != 3 || h.topics["app-counts-changelog"] != 3 {
		t.Fatalf("internal topics: %v", h.topics)
	}
	if len(a.owned) != 6 || a.epoch <= 0 {
		t.Fatalf("epoch %d, tasks %v", a.epoch, a.owned.sorted())
	}
	if resp.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("heartbeat interval %d", resp.HeartbeatIntervalMillis)
	}
	if again := h.beat(a); again.ActiveTasks != nil {
		t.Fatalf("unchanged tasks sent again: %v", again.ActiveTasks)
	}
	d := h.s.Describe("app")
	if d.State != "Stable" || len(d.Members) != 1 || d.Topology == nil || len(d.Topology.Subtopologies) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	// Source topics apart from the repartition topics read (which
	// kafka-streams-groups.sh --delete-all-internal-topics relies on).
	if s1 := d.Topology.Subtopologies[1]; len(s1.SourceTopics) != 0 || len(s1.RepartitionSourceTopics) != 1 ||
		s1.RepartitionSourceTopics[0].NumPartitions != 3 || len(s1.StateChangelogTopics) != 1 {
		t.Fatalf("subtopology 1 described as %+v", s1)
	}
	if s0 := d.Topology.Subtopologies[0]; len(s0.SourceTopics) != 1 || s0.SourceTopics[0] != "in" {
		t.Fatalf("subtopology 0 described as %+v", s0)
	}
}

func TestTaskMovesOnlyOnceReleased(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a, b := &hbm{id: "a", process: "p1"}, &hbm{id: "b", process: "p2"}
	h.beat(a)
	h.beat(b)
	exclusive(t, a, b)
	if len(b.owned) != 0 {
		t.Fatalf("b got %v while a holds everything", b.owned.sorted())
	}
	if st := h.s.Describe("app").State; st != "Reconciling" {
		t.Fatalf("state %s", st)
	}
	aEpoch := a.epoch
	h.beat(a) // told to give up three
	if len(a.owned) != 3 || a.epoch != aEpoch {
		t.Fatalf("a revoking: epoch %d (was %d), tasks %v", a.epoch, aEpoch, a.owned.sorted())
	}
	h.beat(b) // a has not reported yet: b still waits
	exclusive(t, a, b)
	if len(b.owned) != 0 {
		t.Fatalf("b got %v before a reported giving them up", b.owned.sorted())
	}
	h.beat(a) // reports three: moves to the new epoch
	if a.epoch == aEpoch {
		t.Fatal("a kept its epoch after revoking")
	}
	h.beat(b)
	exclusive(t, a, b)
	if len(a.owned) != 3 || len(b.owned) != 3 {
		t.Fatalf("a %v, b %v", a.owned.sorted(), b.owned.sorted())
	}
	if d := h.s.Describe("app"); d.State != "Stable" || d.Epoch != d.AssignmentEpoch {
		t.Fatalf("describe: state %s epoch %d assignment epoch %d", d.State, d.Epoch, d.AssignmentEpoch)
	}
}

func TestSessionTimeoutFreesTasks(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a, b := h.twoStable()
	// a keeps heartbeating, b goes silent.
	for range 9 {
		h.clock.Advance(5 * time.Second)
		h.beat(a)
	}
	h.clock.Advance(5 * time.Second)
	h.beat(a)
	if len(a.owned) != 6 {
		t.Fatalf("after b's session: a has %v", a.owned.sorted())
	}
	if resp := h.beat(b); resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member's heartbeat: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// streams.num.standby.replicas=1: every task gets a standby on the other
// process; streams.session.timeout.ms and streams.heartbeat.interval.ms
// take effect at the next heartbeat.
func TestGroupConfigs(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a, b := h.twoStable()
	h.configs["streams.num.standby.replicas"] = "1"
	h.configs["streams.heartbeat.interval.ms"] = "7000"
	h.configs["streams.session.timeout.ms"] = "50000"
	resp := h.beat(a)
	if resp.HeartbeatIntervalMillis != 7000 {
		t.Fatalf("heartbeat interval %d", resp.HeartbeatIntervalMillis)
	}
	h.beat(b)
	d := h.s.Describe("app")
	for _, m := range d.Members {
		active, standby := setOf(m.Assignment.ActiveTasks), setOf(m.Assignment.StandbyTasks)
		if len(active) != 3 || len(standby) != 3 || overlaps(active, standby) {
			t.Fatalf("member %s: active %v standby %v", m.MemberID, active.sorted(), standby.sorted())
		}
	}
	// The longer session: b silent for 45 s is still a member.
	for range 9 {
		h.clock.Advance(5 * time.Second)
		h.beat(a)
	}
	if d := h.s.Describe("app"); len(d.Members) != 2 {
		t.Fatalf("b expired before its 50 s session: %d members", len(d.Members))
	}
	h.clock.Advance(5 * time.Second)
	if d := h.s.Describe("app"); len(d.Members) != 1 {
		t.Fatalf("b not expired after its 50 s session: %d members", len(d.Members))
	}
}

func TestValidateGroupConfig(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"streams.num.standby.replicas", "0", true},
		{"streams.num.standby.replicas", "2", true},
		{"streams.num.standby.replicas", "3", false},
		{"streams.session.timeout.ms", "44999", false},
		{"streams.session.timeout.ms", "60000", true},
		{"streams.heartbeat.interval.ms", "x", false},
		{"streams.unknown", "1", false},
	} {
		if err := ValidateGroupConfig(tc.name, tc.value); (err == nil) != tc.ok {
			t.Errorf("%s=%s: %v", tc.name, tc.value, err)
		}
	}
	if v, ok := GroupConfigDefault("streams.session.timeout.ms"); !ok || v != "45000" {
		t.Errorf("default session timeout %q %v", v, ok)
	}
}

func TestRevocationTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a, b := &hbm{id: "a", process: "p1"}, &hbm{id: "b", process: "p2"}
	h.beat(a)
	all := a.owned
	h.beat(b)
	// a heartbeats within its session but never gives up the tasks it is
	// told to: after its rebalance timeout (300 s) it is removed.
	removed := false
	for range 70 {
		h.clock.Advance(5 * time.Second)
		a.owned = all
		if resp := h.beat(a); resp.ErrorCode == kerr.UnknownMemberID.Code {
			removed = true
			break
		}
		h.beat(b)
		if len(b.owned) != 0 {
			t.Fatalf("b got %v while a holds them", b.owned.sorted())
		}
	}
	if !removed || h.clock.Now().Sub(time.Unix(1_700_000_000, 0)) < 300*time.Second {
		t.Fatalf("removed %v at %v", removed, h.clock.Now())
	}
	h.beat(b)
	if len(b.owned) != 6 {
		t.Fatalf("b has %v", b.owned.sorted())
	}
}

func TestEpochsAndErrors(t *testing.T) {
	h := newHarness(t, fakeTopics{"in": 3})
	a := &hbm{id: "a", process: "p1"}
	h.beat(a)
	for _, tc := range []struct {
		name string
		req  func(r *kmsg.StreamsGroupHeartbeatRequest)
		code int16
	}{
		{"newer epoch", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberEpoch = a.epoch + 5 }, kerr.FencedMemberEpoch.Code},
		{"unknown member", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberID = "zz" }, kerr.UnknownMemberID.Code},
		{"join without topology", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "c", 0 }, kerr.InvalidRequest.Code},
		{"no member id", func(r *kmsg.StreamsGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest.Code},
		{"invalid topology", func(r *kmsg.StreamsGroupHeartbeatRequest) {
			p := "p9"
			r.MemberID, r.MemberEpoch, r.ProcessID, r.Topology = "c", 0, &p, topo()
		}, kerr.StreamsInvalidTopology.Code},
		{"current epoch", func(*kmsg.StreamsGroupHeartbeatRequest) {}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := kmsg.NewPtrStreamsGroupHeartbeatRequest()
			r.Group, r.MemberID, r.MemberEpoch = "app", a.id, a.epoch
			tc.req(r)
			if resp := h.s.Heartbeat(context.Background(), r, "c", "/h"); resp.ErrorCode != tc.code {
				t.Fatalf("got %v, want %v", kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(tc.code))
			}
		})
	}
	for _, tc := range []struct {
		name   string
		member string
		epoch  int32
		known  bool
		code   int16
	}{
		{"member at its epoch", "a", a.epoch, true, 0},
		{"older epoch", "a", a.epoch - 1, true, kerr.StaleMemberEpoch.Code},
		{"newer epoch", "a", a.epoch + 1, true, kerr.FencedMemberEpoch.Code},
		{"unknown member", "x", 1, true, kerr.UnknownMemberID.Code},
		{"outsider while members", "", -1, true, kerr.UnknownMemberID.Code},
	} {
		t.Run("commit "+tc.name, func(t *testing.T) {
			known, code := h.s.CheckMember("app", tc.member, tc.epoch)
			if known != tc.known || code != tc.code {
				t.Fatalf("known %v code %v", known, kerr.ErrorForCode(code))
			}
		})
	}
	if known, _ := h.s.CheckMember("other", "a", 1); known {
		t.Fatal("a group that is not a streams group is known")
	}
	if _, code := h.s.DeleteGroup(context.Background(), "app"); code != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete with members: %v", kerr.ErrorForCode(code))
	}
	a.epoch = -1
	if resp := h.beat(a); resp.ErrorCode != 0 || resp.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", resp)
	}
	if st := h.s.List(); len(st) != 1 || st[0].State != "Empty" {
		t.Fatalf("list: %+v", st)
	}
	if known, code := h.s.DeleteGroup(context.Background(), "app"); !known || code != 0 || h.s.IsStreamsGroup("app") {
		t.Fatalf("delete: %v %v", known, code)
	}
}

func TestStatuses(t *testing.T) {
	h := newHarness(t, fakeTopics{})
	a := &hbm{id: "a", process: "p1"}
	resp := h.beat(a)
	if len(resp.Status) != 1 || resp.Status[0].StatusCode != statusMissingSourceTopics || len(a.owned) != 0 {
		t.Fatalf("no source topic: %+v", resp)
	}
	if st := h.s.Describe("app").State; st != "NotReady" {
		t.Fatalf("state %s", st)
	}
	h.topics["in"] = 2
	h.refuse["app-counts-changelog"] = true
	resp = h.beat(a)
	if len(resp.Status) != 1 || resp.Status[0].StatusCode != statusMissingInternalTopics ||
		!strings.Contains(resp.Status[0].StatusDetail, "app-counts-changelog (POLICY_VIOLATION)") {
		t.Fatalf("internal topic refused: %+v", resp.Status)
	}
	delete(h.refuse, "app-counts-changelog")
	resp = h.beat(a)
	if len(resp.Status) != 0 || len(a.owned) != 4 {
		t.Fatalf("configured: status %+v, tasks %v", resp.Status, a.owned.sorted())
	}
}

// twoStable has members a and b join and settle on three tasks each.
func (h *harness) twoStable() (a, b *hbm) {
	h.t.Helper()
	a, b = &hbm{id: "a", process: "p1"}, &hbm{id: "b", process: "p2"}
	h.beat(a)
	h.beat(b)
	h.beat(a) // gives up three
	h.beat(a) // reports it
	h.beat(b) // takes them
	if len(a.owned) != 3 || len(b.owned) != 3 {
		h.t.Fatalf("a %v, b %v", a.owned.sorted(), b.owned.sorted())
	}
	return a, b
}
