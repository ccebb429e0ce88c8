package journal

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A share group's stored membership: newest version wins, only the latest
// claim stores, a snapshot keeps it, a nil store removes it.
func TestStoreShareGroup(t *testing.T) {
	s := NewState()
	claim := applyAll(t, s, Command{ClaimGroup: &ClaimGroup{Group: "q", Coordinator: "agent-a"}})[0].Claim
	st := func(v int64, epoch int32, c *GroupClaim) Command {
		return Command{StoreShareGroup: &StoreShareGroup{Group: "q", Version: v, Claim: c, Meta: &ShareGroupMeta{Epoch: epoch,
			Members: []ShareMember{{ID: "m", Epoch: epoch, Subscribed: []string{"jobs"}, Assigned: []TopicPartitions{{Topic: "jobs", Partitions: []int32{0}}}}}}}}
	}
	stale := &GroupClaim{Coordinator: "agent-z", Epoch: 7}
	steps := []struct {
		cmd        Command
		code       int16
		wantEpoch  int32
		wantStored bool
	}{
		{st(5, 2, claim), 0, 2, true},
		{st(4, 1, claim), 0, 2, true},
		{st(6, 3, stale), kerr.NotCoordinator.Code, 2, true},
		{Command{StoreShareGroup: &StoreShareGroup{Version: 9}}, kerr.InvalidRequest.Code, 2, true},
	}
	for i, step := range steps {
		r := applyAll(t, s, step.cmd)
		m := s.ShareGroupMembers["q"]
		if r[0].Code != step.code || (m != nil) != step.wantStored || (m != nil && m.Epoch != step.wantEpoch) {
			t.Fatalf("step %d: code %d, stored %+v", i, r[0].Code, m)
		}
	}
	raw, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := DecodeSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m := restored.ShareGroupMembers["q"]; m == nil || m.Version != 5 || m.Members[0].Assigned[0].Topic != "jobs" {
		t.Fatalf("snapshot: %+v", m)
	}
	if r := applyAll(t, s, Command{StoreShareGroup: &StoreShareGroup{Group: "q", Version: 10, Claim: claim}}); r[0].Code != 0 || s.ShareGroupMembers["q"] != nil {
		t.Fatalf("removal: %d %+v", r[0].Code, s.ShareGroupMembers["q"])
	}
}
