package journal

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/silt-io/silt/objstore/mem"
)

// Inline segments travel in their journal entry: the chunks of two
// segments committed in one entry point into the entry's object, each at
// its own place after the commands, and a ranged read there gives back
// the chunk's bytes. A follower that replays the entry from the bucket, and
// one that is pushed the entry's head, reach the same state without
// reading the data.
func TestInlineSegmentsLiveInTheirEntry(t *testing.T) {
	ctx := context.Background()
	bucket := mem.New()
	var pushed []byte
	l, err := Open(ctx, bucket, Options{WriterID: "w", Appended: func(_ uint64, head []byte) { pushed = bytes.Clone(head) }})
	if err != nil {
		t.Fatal(err)
	}
	id := mustAppend(t, l, create("t", 2))[0].TopicID
	follower := openLog(t, bucket, "follower")

	segA := []byte("header-A|chunk-A0|chunk-A1|footer")
	segB := []byte("hdr-B|chunk-B0|ftr")
	chunk := func(part int32, seg []byte, body string) ChunkCommit {
		pos := int64(bytes.Index(seg, []byte(body)))
		return ChunkCommit{Topic: "t", TopicID: id, Partition: part, Pos: pos, Len: int64(len(body)), RawLen: int64(len(body)),
			Batches: []Batch{plain(1)}}
	}
	cmds := []Command{
		{CommitSegment: &CommitSegment{Object: "segments/aa/a.seg", Inline: true, Data: [][]byte{segA},
			Chunks: []ChunkCommit{chunk(0, segA, "chunk-A0"), chunk(1, segA, "chunk-A1")}}},
		{CommitSegment: &CommitSegment{Object: "segments/bb/b.seg", Inline: true, Data: [][]byte{segB},
			Chunks: []ChunkCommit{chunk(0, segB, "chunk-B0")}}},
	}
	seq, res, err := l.Append(ctx, cmds)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Chunks[1][0].BaseOffset != 0 || res[1].Chunks[0][0].BaseOffset != 1 {
		t.Fatalf("offsets %+v", res)
	}
	if res[1].Object != EntryKey(seq) || res[1].Base <= res[0].Base {
		t.Errorf("results place the segments at %q+%d and %q+%d", res[0].Object, res[0].Base, res[1].Object, res[1].Base)
	}

	want := map[int32][]string{0: {"chunk-A0", "chunk-B0"}, 1: {"chunk-A1"}}
	check := func(who string, lg *Log) {
		t.Helper()
		lg.View(func(s *State) {
			for part, bodies := range want {
				p := s.Partition("t", part)
				if len(p.Chunks) != len(bodies) {
					t.Fatalf("%s: partition %d has %d chunks, want %d", who, part, len(p.Chunks), len(bodies))
				}
				for i, body := range bodies {
					c := p.Chunks[i]
					if c.Object != EntryKey(seq) {
						t.Errorf("%s: chunk in %q, want the entry %q", who, c.Object, EntryKey(seq))
					}
					rc, err := bucket.GetRange(ctx, c.Object, c.Pos, c.Len)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := io.ReadAll(rc)
					rc.Close()
					if string(got) != body {
						t.Errorf("%s: partition %d chunk %d reads %q, want %q", who, part, i, got, body)
					}
				}
			}
		})
	}
	check("writer", l)
	if _, err := follower.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	check("follower reading the bucket", follower)

	pushFollower := openLog(t, mem.New(), "push")
	if _, err := pushFollower.Offer(ctx, [][]byte{mustHead(t, bucket, 1), pushed}); err != nil {
		t.Fatal(err)
	}
	if len(pushed) >= len(segA)+len(segB) && bytes.Contains(pushed, segA) {
		t.Error("the pushed head carries the inline data")
	}
	pushFollower.View(func(s *State) {
		if c := s.Partition("t", 0).Chunks[1]; c.Object != EntryKey(seq) {
			t.Errorf("pushed entry applied with object %q", c.Object)
		}
	})
	if !bytes.Equal(encoded(t, l), encoded(t, follower)) {
		t.Error("the follower's state differs from the writer's")
	}
}

// An inline segment in an entry without data is refused, not pointed at
// nothing.
func TestInlineWithoutDataIsRefused(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 1))[0].TopicID
	c := commit("t", id, 0, plain(1))
	c.CommitSegment.Inline = true
	r := applyAll(t, s, c)
	if r[0].Chunks[0][0].Code == 0 || s.Partition("t", 0).NextOffset != 0 {
		t.Fatalf("inline commit without data applied: %+v", r[0])
	}
}

func mustHead(t *testing.T, b interface {
	Get(context.Context, string) (io.ReadCloser, error)
}, seq uint64) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), EntryKey(seq))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head, err := readEntryHead(rc)
	if err != nil {
		t.Fatal(err)
	}
	return head
}
