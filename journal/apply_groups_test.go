package journal

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A commit made under a claim that another coordinator has superseded is
// refused, and leaves the offsets as the new coordinator's members left
// them.
func TestStaleCoordinatorCannotCommit(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 1))
	claim := func(agent string) GroupClaim {
		r := applyAll(t, s, Command{ClaimGroup: &ClaimGroup{Group: "g", Coordinator: agent}})
		if r[0].Code != 0 || r[0].Claim == nil {
			t.Fatalf("claim by %s: %+v", agent, r[0])
		}
		return *r[0].Claim
	}
	commitAt := func(offset int64, c *GroupClaim) int16 {
		r := applyAll(t, s, Command{CommitOffsets: &CommitOffsets{Group: "g", Claim: c,
			Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: offset}}}})
		return r[0].Partitions[0]
	}
	a := claim("agent-a")
	b := claim("agent-b")
	if b.Epoch != a.Epoch+1 {
		t.Fatalf("epochs %d then %d; want them to increase by one", a.Epoch, b.Epoch)
	}
	for _, step := range []struct {
		name   string
		offset int64
		claim  *GroupClaim
		code   int16
		want   int64 // the group's offset after the step
	}{
		{"the new coordinator commits", 100, &b, 0, 100},
		{"the old one is refused", 50, &a, kerr.NotCoordinator.Code, 100},
		{"a tool without a claim commits", 120, nil, 0, 120},
		{"the new one goes on", 130, &b, 0, 130},
	} {
		if code := commitAt(step.offset, step.claim); code != step.code {
			t.Errorf("%s: code %d, want %d", step.name, code, step.code)
		}
		if got, _ := s.GroupOffset("g", "t", 0); got.Offset != step.want {
			t.Errorf("%s: offset %d, want %d", step.name, got.Offset, step.want)
		}
	}
	r := applyAll(t, s, Command{DeleteGroupOffsets: &DeleteGroupOffsets{Group: "g", Claim: &a}})
	if r[0].Code != kerr.NotCoordinator.Code {
		t.Errorf("a stale coordinator deleted the group's offsets: code %d", r[0].Code)
	}
}
