package journal

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A streams group's stored state follows the rules its next coordinator
// relies on: the newest version wins whatever order stores land in, a
// superseded coordinator cannot store, the state survives a snapshot, and
// a nil store removes it.
func TestStoreStreamsGroup(t *testing.T) {
	s := NewState()
	claimOf := func(agent string) *GroupClaim {
		r := applyAll(t, s, Command{ClaimGroup: &ClaimGroup{Group: "app", Coordinator: agent}})
		return r[0].Claim
	}
	store := func(v int64, epoch int32, claim *GroupClaim) Command {
		return Command{StoreStreamsGroup: &StoreStreamsGroup{Group: "app", Version: v, Claim: claim, Meta: &StreamsGroupMeta{
			Epoch: epoch, TargetEpoch: epoch,
			Subtopologies: []StreamsSubtopology{{ID: "0", Sources: []string{"in"}, Changelogs: []StreamsTopic{{Name: "app-c-changelog", Configs: map[string]string{"cleanup.policy": "compact"}}}}},
			Members: []StreamsMember{{ID: "m1", Process: "p1", Epoch: epoch,
				Current: StreamsTasks{Active: map[string][]int32{"0": {0, 1}}}}},
		}}}
	}
	epoch := func() int32 {
		if m := s.StreamsGroups["app"]; m != nil {
			return m.Epoch
		}
		return -1
	}
	a := claimOf("agent-a")
	b := &GroupClaim{Coordinator: "nobody", Epoch: 99}
	for _, step := range []struct {
		name string
		cmd  Command
		code int16
		want int32
	}{
		{"the coordinator stores epoch 3", store(2, 3, a), 0, 3},
		{"an overtaken store is dropped", store(1, 2, a), 0, 3},
		{"a newer version replaces it", store(3, 4, a), 0, 4},
		{"a claim that is not the latest is refused", store(9, 9, b), kerr.NotCoordinator.Code, 4},
		{"no group name", Command{StoreStreamsGroup: &StoreStreamsGroup{Version: 10}}, kerr.InvalidRequest.Code, 4},
	} {
		r := applyAll(t, s, step.cmd)
		if r[0].Code != step.code || epoch() != step.want {
			t.Errorf("%s: code %d epoch %d, want %d and %d", step.name, r[0].Code, epoch(), step.code, step.want)
		}
	}
	claimOf("agent-b")
	if r := applyAll(t, s, store(10, 10, a)); r[0].Code != kerr.NotCoordinator.Code || epoch() != 4 {
		t.Errorf("a superseded coordinator stored: code %d, epoch %d", r[0].Code, epoch())
	}
	raw, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := DecodeSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := restored.StreamsGroups["app"]
	if m == nil || m.Version != 3 || len(m.Members) != 1 || !slices.Equal(m.Members[0].Current.Active["0"], []int32{0, 1}) ||
		m.Subtopologies[0].Changelogs[0].Configs["cleanup.policy"] != "compact" {
		t.Fatalf("snapshot lost the stored group: %+v", m)
	}
	if r := applyAll(t, s, Command{StoreStreamsGroup: &StoreStreamsGroup{Group: "app", Version: 11}}); r[0].Code != 0 || s.StreamsGroups["app"] != nil {
		t.Errorf("removal: code %d, left %+v", r[0].Code, s.StreamsGroups["app"])
	}
}
