package sharegroups

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/journal"
)

// The in-flight window's rules, step by step: what each member may
// acquire, what each acknowledgement does, when records come back and
// when they are archived, and what a write stores for the next owner.
func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := limits{maxRecords: 4, maxLocks: 8, deliveryLimit: 3}
	w := window{start: 10, end: 10}
	var tl tally
	type step struct {
		name string
		do   func() any
		want any
	}
	for _, st := range []step{
		{"a takes four new records", func() any { return w.acquire("a", 30, l, t0.Add(time.Minute), &tl) }, []span{{10, 13, 1}}},
		{"b takes the next four", func() any { return w.acquire("b", 30, l, t0.Add(time.Minute), &tl) }, []span{{14, 17, 1}}},
		{"the window is full (8 locks)", func() any { return w.acquire("c", 30, l, t0.Add(time.Minute), &tl) }, []span(nil)},
		{"b cannot acknowledge a's records", func() any { return w.ack("b", 10, 10, []int8{ackAccept}, l, t0, &tl) }, kerr.InvalidRecordState.Code},
		{"a mixed batch: accept, release, reject, gap", func() any {
			return w.ack("a", 10, 13, []int8{ackAccept, ackRelease, ackReject, ackGap}, l, t0, &tl)
		}, int16(0)},
		{"the start moved past the accepted record only", func() any { return w.start }, int64(11)},
		{"a wrong number of types is refused", func() any { return w.ack("b", 14, 16, []int8{1, 1}, l, t0, &tl) }, kerr.InvalidRequest.Code},
		{"c gets the released record again, then one new one (the window is 11-17 of 8)", func() any { return w.acquire("c", 30, l, t0.Add(time.Minute), &tl) }, []span{{11, 11, 2}, {18, 18, 1}}},
		{"locks expire: b's and c's records come back", func() any {
			changed, _ := w.expire(t0.Add(2*time.Minute), l, &tl)
			return changed
		}, true},
		{"a third delivery of 11 is the last", func() any {
			return w.acquire("a", 30, limits{maxRecords: 1, maxLocks: 16, deliveryLimit: 3}, t0.Add(3*time.Minute), &tl)
		}, []span{{11, 11, 3}}},
		{"released at the limit, it is archived", func() any {
			w.ack("a", 11, 11, []int8{ackRelease}, l, t0, &tl)
			return w.start
		}, int64(14)},
		{"the store keeps counts, states and the end", func() any {
			_, end, b := w.persisted()
			return []any{end, b}
		}, []any{int64(19), []journal.ShareBatch{{First: 14, Last: 18, State: journal.ShareAvailable, Count: 1}}},
		},
	} {
		got := st.do()
		if !equal(got, st.want) {
			t.Fatalf("%s: got %+v, want %+v", st.name, got, st.want)
		}
	}
	if tl.archived != 3 || tl.redelivered != 2 {
		t.Fatalf("tally %+v, want 3 archived and 2 redelivered", tl)
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []span:
		return slices.Equal(x, b.([]span))
	case []any:
		y := b.([]any)
		return len(x) == len(y) && equal(x[0], y[0]) && slices.Equal(x[1].([]journal.ShareBatch), y[1].([]journal.ShareBatch))
	}
	return a == b
}

// A window loaded from its store serves acknowledged records never again
// and acquired ones again with their counts; a read that returns less
// than was acquired gives the rest back uncounted.
func TestWindowLoadAndUndo(t *testing.T) {
	l := limits{maxRecords: 100, maxLocks: 100, deliveryLimit: 5}
	w := load(&journal.ShareState{StartOffset: 5, EndOffset: 10, Batches: []journal.ShareBatch{
		{First: 5, Last: 5, State: journal.ShareAcknowledged, Count: 1},
		{First: 6, Last: 7, State: journal.ShareAvailable, Count: 2},
		{First: 8, Last: 8, State: journal.ShareArchived, Count: 1},
	}})
	if w.start != 6 {
		t.Fatalf("start %d, want 6 (5 was acknowledged)", w.start)
	}
	var tl tally
	got := w.acquire("a", 14, l, time.Unix(0, 0), &tl)
	want := []span{{6, 7, 3}, {9, 13, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	w.undo("a", got, 11, &tl)
	if w.end != 12 || w.rec(12) != nil {
		t.Fatalf("after undo past 11 the window ends at %d, want 12", w.end)
	}
	if got := w.acquire("b", 14, l, time.Unix(0, 0), &tl); !slices.Equal(got, []span{{12, 13, 1}}) {
		t.Fatalf("the undone records were not available as first deliveries: %v", got)
	}
	w.clamp(13)
	if w.start != 13 || len(w.recs) != 1 {
		t.Fatalf("clamp to the log start: start %d, %d records", w.start, len(w.recs))
	}
}
