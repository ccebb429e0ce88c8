package journal

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore/mem"
)

// A follower applies what the committer pushes: in order, ignoring
// repeats, filling a gap from the bucket, and ends with the same state.
func TestFollowerAppliesPushedEntries(t *testing.T) {
	ctx := context.Background()
	bucket := mem.New()
	var pushed [][]byte
	writer, err := Open(ctx, bucket, Options{WriterID: "committer", Appended: func(_ uint64, data []byte) {
		pushed = append(pushed, bytes.Clone(data))
	}})
	if err != nil {
		t.Fatal(err)
	}
	follower := openLog(t, bucket, "follower")
	for i := range 5 {
		mustAppend(t, writer, create("t"+string(rune('a'+i)), 1))
	}
	if len(pushed) != 5 {
		t.Fatalf("Appended saw %d entries, want 5", len(pushed))
	}

	for _, step := range []struct {
		name    string
		offer   [][]byte
		applied int
		seq     uint64
	}{
		{"in order", pushed[0:2], 2, 2},
		{"a repeat is ignored", pushed[1:2], 0, 2},
		{"the next one", pushed[2:3], 1, 3},
		{"a gap is filled from the bucket", pushed[4:5], 2, 5},
		{"old entries are ignored", pushed[0:5], 0, 5},
	} {
		n, err := follower.Offer(ctx, step.offer)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if n != step.applied || follower.Seq() != step.seq {
			t.Errorf("%s: applied %d, at %d; want %d, at %d", step.name, n, follower.Seq(), step.applied, step.seq)
		}
	}
	if !bytes.Equal(encoded(t, writer), encoded(t, follower)) {
		t.Fatal("follower state differs from the committer's")
	}
	if _, err := follower.Offer(ctx, [][]byte{[]byte(`{"v":1}`)}); err == nil {
		t.Error("an entry without a number was accepted")
	}
}

// WaitFor returns once an entry is applied, reading the bucket when no
// push brings it.
func TestWaitForReadsTheBucketWithoutPushes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bucket := mem.New()
	writer := openLog(t, bucket, "committer")
	follower := openLog(t, bucket, "follower")
	mustAppend(t, writer, create("a", 1))
	mustAppend(t, writer, create("b", 1))
	if err := follower.WaitFor(ctx, 2); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := follower.WaitFor(short, 3); err == nil {
		t.Fatal("WaitFor returned for an entry nobody wrote")
	}
}
