package journal

import (
	"context"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore/mem"
)

// DeleteCovered removes the entries and snapshots that the newest snapshot
// old enough covers, and a log opened afterwards has the same state.
func TestDeleteCovered(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	now := time.UnixMilli(1_000_000)
	l, err := Open(ctx, b, Options{WriterID: "w", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, create("t", 1))
	for range 3 { // entries 2..31, a snapshot after every 10, a minute apart
		for range 10 {
			now = now.Add(6 * time.Second)
			mustAppend(t, l, Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 1}})
		}
		if _, err := l.WriteSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(prefix string) int {
		n := 0
		for _, err := range b.List(ctx, prefix, "") {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}

	// Nothing is old enough before the first snapshot's time.
	if n, err := l.DeleteCovered(ctx, time.UnixMilli(1_000_000)); err != nil || n != 0 {
		t.Fatalf("DeleteCovered before any snapshot: %d, %v", n, err)
	}
	// The second snapshot (entry 21) is the newest before the cutoff.
	n, err := l.DeleteCovered(ctx, now.Add(-30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 21+1 || count(entryPrefix) != 10 || count(snapshotPrefix) != 2 {
		t.Fatalf("deleted %d; %d entries and %d snapshots left; want 22 deleted, 10 and 2 left", n, count(entryPrefix), count(snapshotPrefix))
	}
	want := encoded(t, l)
	l2, err := Open(ctx, b, Options{WriterID: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	if string(encoded(t, l2)) != string(want) {
		t.Fatal("a log opened after housekeeping has another state")
	}
	// Appending goes on at the next number.
	mustAppend(t, l2, create("u", 1))
	if l2.Seq() != 32 {
		t.Fatalf("next entry %d, want 32", l2.Seq())
	}
}
