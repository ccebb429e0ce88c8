package journal

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/entry-framed.golden")

// The framed entry layout is a stored format: entries written by this
// version must read the same way in every later one. This pins its bytes.
// A deliberate change bumps EntryVersion and updates the file with
// `go test ./journal -run Golden -update`.
func TestFramedEntryGolden(t *testing.T) {
	e := &Entry{Version: 1, Seq: 7, Writer: "agent-1", Nonce: "00ff", Time: 1700000000000, Commands: []Command{
		{ID: "agent-1/x/1", CommitSegment: &CommitSegment{Object: "segments/ab/0123.seg", Inline: true, Data: [][]byte{[]byte("SEGMENT-"), []byte("BYTES")},
			Chunks: []ChunkCommit{{Topic: "t", Partition: 0, Pos: 3, Len: 4, RawLen: 4, CRC: 9,
				Batches: []Batch{{Records: 2, MaxTimestamp: 5, ProducerID: -1}}}}}},
	}}
	object, head, err := e.encodeObject(inlineData(e.Commands))
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/entry-framed.golden"
	if *updateGolden {
		if err := os.WriteFile(path, object, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(object, want) {
		t.Fatalf("framed entry bytes changed:\n got %q\nwant %q", object, want)
	}
	got, err := DecodeEntry(7, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.DataOffset != int64(len(head)) || string(want[got.DataOffset:]) != "SEGMENT-BYTES" {
		t.Errorf("data at %d of %d bytes: %q", got.DataOffset, len(want), want[got.DataOffset:])
	}
	if cs := got.Commands[0].CommitSegment; !cs.Inline || cs.DataPos != 0 || cs.Data != nil {
		t.Errorf("decoded inline segment %+v", cs)
	}
}
