package journal

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A share-partition's state follows the rules its next owner relies on: a
// claim initialises it once, at the log's start or end; only the latest
// claim may write; an administrator's reset supersedes the owner; bad runs
// are refused; deleting the topic or the group takes the state; and the
// state survives a snapshot.
func TestShareState(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 2))
	s.Topics["t"].Partitions[0].StartOffset, s.Topics["t"].Partitions[0].NextOffset = 5, 100
	claim := func(owner, reset string) *GroupClaim {
		r := applyAll(t, s, Command{ClaimShare: &ClaimShare{Group: "g", Topic: "t", Partition: 0, Owner: owner, Reset: reset}})
		if r[0].Code != 0 {
			t.Fatalf("claim: %v", kerr.ErrorForCode(r[0].Code))
		}
		return r[0].Claim
	}
	write := func(c *GroupClaim, start, end int64, b ...ShareBatch) int16 {
		return applyAll(t, s, Command{WriteShare: &WriteShare{Group: "g", Topic: "t", Partition: 0, Claim: c, StartOffset: start, EndOffset: end, Batches: b}})[0].Code
	}
	a := claim("a", "earliest")
	if st := s.Share("g", "t", 0); st.StartOffset != 5 || st.EndOffset != 5 {
		t.Fatalf("earliest initialises at the log start: %+v", st)
	}
	for _, step := range []struct {
		name       string
		code       int16
		start, end int64
		batches    []ShareBatch
	}{
		{"the owner writes its window", 0, 10, 20, []ShareBatch{{First: 12, Last: 12, State: ShareAcknowledged, Count: 1}, {First: 13, Last: 15, State: ShareAvailable, Count: 2}}},
		{"overlapping runs are refused", kerr.InvalidRequest.Code, 10, 20, []ShareBatch{{First: 12, Last: 14}, {First: 14, Last: 15}}},
		{"a run past the end is refused", kerr.InvalidRequest.Code, 10, 20, []ShareBatch{{First: 12, Last: 20}}},
		{"an unknown state is refused", kerr.InvalidRequest.Code, 10, 20, []ShareBatch{{First: 12, Last: 12, State: 1}}},
	} {
		if code := write(a, step.start, step.end, step.batches...); code != step.code {
			t.Fatalf("%s: code %v, want %v", step.name, kerr.ErrorForCode(code), kerr.ErrorForCode(step.code))
		}
	}
	if st := s.Share("g", "t", 0); st.StartOffset != 10 || len(st.Batches) != 2 || st.Batches[1].Count != 2 {
		t.Fatalf("state after the writes: %+v", st)
	}
	b := claim("b", "latest")
	if st := s.Share("g", "t", 0); st.StartOffset != 10 {
		t.Fatalf("a second claim re-initialised the state: %+v", st)
	}
	if code := write(a, 20, 20); code != kerr.NotCoordinator.Code {
		t.Fatalf("the superseded owner wrote: %v", kerr.ErrorForCode(code))
	}
	if code := write(nil, 50, 50); code != 0 {
		t.Fatalf("reset: %v", kerr.ErrorForCode(code))
	}
	if code := write(b, 60, 60); code != kerr.NotCoordinator.Code {
		t.Fatalf("the owner wrote over an administrator's reset: %v", kerr.ErrorForCode(code))
	}
	snap, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if st := back.Share("g", "t", 0); st == nil || st.StartOffset != 50 {
		t.Fatalf("state after a snapshot: %+v", st)
	}
	applyAll(t, s, Command{AlterGroupConfigs: &AlterGroupConfigs{Group: "g", Set: map[string]string{"share.auto.offset.reset": "earliest"}}})
	if r := applyAll(t, s, Command{DeleteShare: &DeleteShare{Group: "g"}}); r[0].Code != 0 || s.Shares["g"] != nil || s.GroupConfigs["g"] != nil {
		t.Fatalf("delete group: %v, state %v, configs %v", r[0].Code, s.Shares["g"], s.GroupConfigs["g"])
	}
	if r := applyAll(t, s, Command{DeleteShare: &DeleteShare{Group: "g"}}); r[0].Code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete a missing group: %v", kerr.ErrorForCode(r[0].Code))
	}
	c := claim("c", "")
	if st := s.Share("g", "t", 0); st.StartOffset != 100 || *c == *b {
		t.Fatalf("latest initialises at the log end with a new claim: %+v", st)
	}
	applyAll(t, s, Command{DeleteTopic: &DeleteTopic{Name: "t"}})
	if s.Shares["g"] != nil {
		t.Fatalf("deleting the topic left share state: %+v", s.Shares["g"])
	}
}
