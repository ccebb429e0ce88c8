package journal

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The stored membership of a group follows the rules a successor relies on:
// the newest version wins whatever order stores land in, a superseded
// coordinator cannot store, deleting the group takes its membership with
// its offsets, and the membership survives a snapshot.
func TestStoreGroupMeta(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 1))
	claimOf := func(agent string) *GroupClaim {
		r := applyAll(t, s, Command{ClaimGroup: &ClaimGroup{Group: "g", Coordinator: agent}})
		return r[0].Claim
	}
	gen := func(v int64, generation int32) Command {
		return Command{StoreGroup: &StoreGroup{Group: "g", Version: v, Meta: &GroupMeta{Classic: &ClassicGroupMeta{
			ProtocolType: "consumer", Protocol: "range", Generation: generation, Leader: "m1",
			Members: []ClassicMember{{ID: "m1", SessionTimeoutMs: 45000, Assignment: []byte{1, 2}}},
		}}}}
	}
	with := func(c Command, claim *GroupClaim) Command { c.StoreGroup.Claim = claim; return c }
	generation := func() int32 {
		m := s.GroupMeta["g"]
		if m == nil {
			return -1
		}
		return m.Classic.Generation
	}

	a := claimOf("agent-a")
	for _, step := range []struct {
		name string
		cmd  Command
		code int16
		want int32 // the stored generation after the step (-1: none)
	}{
		{"the coordinator stores generation 3", with(gen(2, 3), a), 0, 3},
		{"a store overtaken by a newer one is dropped", with(gen(1, 2), a), 0, 3},
		{"a newer version replaces it", with(gen(3, 4), a), 0, 4},
		{"a store without a Classic or Consumer part is refused",
			Command{StoreGroup: &StoreGroup{Group: "g", Version: 9, Meta: &GroupMeta{}, Claim: a}}, kerr.InvalidRequest.Code, 4},
	} {
		r := applyAll(t, s, step.cmd)
		if r[0].Code != step.code {
			t.Errorf("%s: code %d, want %d", step.name, r[0].Code, step.code)
		}
		if got := generation(); got != step.want {
			t.Errorf("%s: stored generation %d, want %d", step.name, got, step.want)
		}
	}
	if v := s.GroupMeta["g"].Version; v != 3 {
		t.Errorf("stored version %d, want the store's 3", v)
	}

	b := claimOf("agent-b")
	if r := applyAll(t, s, with(gen(10, 9), a)); r[0].Code != kerr.NotCoordinator.Code || generation() != 4 {
		t.Errorf("a superseded coordinator stored: code %d, generation %d", r[0].Code, generation())
	}
	if r := applyAll(t, s, with(gen(4, 5), b)); r[0].Code != 0 || generation() != 5 {
		t.Errorf("the new coordinator's store: code %d, generation %d", r[0].Code, generation())
	}

	// A snapshot carries the membership.
	raw, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := DecodeSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m := restored.GroupMeta["g"]; m == nil || m.Classic.Generation != 5 || !bytes.Equal(m.Classic.Members[0].Assignment, []byte{1, 2}) {
		t.Errorf("snapshot lost the stored group: %+v", m)
	}

	// Deleting the group (no offsets were ever committed) removes it.
	if r := applyAll(t, s, Command{DeleteGroupOffsets: &DeleteGroupOffsets{Group: "g", Claim: b}}); r[0].Code != 0 {
		t.Errorf("delete a group with stored membership and no offsets: code %d", r[0].Code)
	}
	if _, ok := s.GroupMeta["g"]; ok {
		t.Error("the deleted group's membership is still stored")
	}
	if r := applyAll(t, s, Command{DeleteGroupOffsets: &DeleteGroupOffsets{Group: "g", Claim: b}}); r[0].Code != kerr.GroupIDNotFound.Code {
		t.Errorf("delete a group that is gone: code %d, want GROUP_ID_NOT_FOUND", r[0].Code)
	}
}
