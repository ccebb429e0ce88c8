package journal

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore/mem"
)

// An agent that applied nothing while housekeeping deleted the entries it
// missed must not take the first deleted entry for the end of the journal
// and write there: it starts again from the newer snapshot, catches up,
// and appends after the real end.
func TestLaggardStartsFromNewerSnapshot(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }

	writer, err := Open(ctx, b, Options{WriterID: "writer", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	id := mustAppend(t, writer, create("t", 1))[0].TopicID
	laggard, err := Open(ctx, b, Options{WriterID: "laggard", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		mustAppend(t, writer, commit("t", id, 0, plain(1)))
	}
	if _, err := writer.WriteSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, writer, commit("t", id, 0, plain(1)))
	now.Add(int64(2 * time.Hour))
	if _, err := writer.DeleteCovered(ctx, clock().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, EntryKey(2)); err == nil {
		t.Fatal("housekeeping kept entry 2; the test needs it gone")
	}

	// The laggard, at entry 1, has not seen the end for two hours.
	_, res, err := laggard.Append(ctx, []Command{commit("t", id, 0, plain(1))})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[0].Chunks[0][0].BaseOffset; got != 21 {
		t.Fatalf("the laggard's record got offset %d, want 21 (after the 21 the writer committed)", got)
	}
	if laggard.Seq() != 23 {
		t.Fatalf("the laggard appended entry %d, want 23", laggard.Seq())
	}
	if _, err := writer.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encoded(t, writer), encoded(t, laggard)) {
		t.Fatal("the writer and the laggard disagree")
	}
}
