package journal

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestCodeStaleIsFencedLeaderEpoch(t *testing.T) {
	if CodeStale != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("CodeStale = %d, want %d", CodeStale, kerr.FencedLeaderEpoch.Code)
	}
}

// threeChunks makes topic t with one partition of three chunks of 3, 2 and
// 4 records in objects a, b and c.
func threeChunks(t *testing.T) (*State, TopicID) {
	t.Helper()
	s := NewState()
	id := applyAll(t, s, create("t", 1))[0].TopicID
	for _, c := range []struct {
		obj string
		n   int32
	}{{"segments/aa/a.seg", 3}, {"segments/bb/b.seg", 2}, {"segments/cc/c.seg", 4}} {
		cmd := commit("t", id, 0, plain(c.n))
		cmd.CommitSegment.Object = c.obj
		applyAll(t, s, cmd)
	}
	return s, id
}

func refs(p *Partition, from, to int) []ChunkRef {
	var out []ChunkRef
	for i := from; i < to; i++ {
		out = append(out, RefOf(&p.Chunks[i]))
	}
	return out
}

func merged(obj string, base, next int64) Chunk {
	return Chunk{Object: obj, Pos: 24, Len: 100, RawLen: 200, Codec: 1, CRC: 7, BaseOffset: base, NextOffset: next, MaxTimestamp: 99}
}

func TestReplaceChunks(t *testing.T) {
	s, id := threeChunks(t)
	p := s.Partition("t", 0)
	old := refs(p, 0, 2)
	r := applyAll(t, s, Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: old,
		New: []Chunk{merged("segments/dd/m.seg", 0, 5)}}})
	if r[0].Code != 0 {
		t.Fatalf("replace: code %d", r[0].Code)
	}
	p = s.Partition("t", 0)
	if len(p.Chunks) != 2 || p.Chunks[0].Object != "segments/dd/m.seg" || p.Chunks[1].Object != "segments/cc/c.seg" {
		t.Fatalf("chunks after replace: %+v", p.Chunks)
	}
	if p.NextOffset != 9 || p.FindChunk(4) != 0 || p.FindChunk(5) != 1 {
		t.Fatalf("offsets moved: next %d, chunk of 4: %d, of 5: %d", p.NextOffset, p.FindChunk(4), p.FindChunk(5))
	}
	// The same replacement again names chunks that are gone: stale.
	r = applyAll(t, s, Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: old,
		New: []Chunk{merged("segments/ee/m2.seg", 0, 5)}}})
	if r[0].Code != CodeStale {
		t.Fatalf("replaying a replacement: code %d, want CodeStale", r[0].Code)
	}
}

func TestReplaceChunksRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []Command // applied first
		old    func(p *Partition) []ChunkRef
		new    []Chunk
		id     *TopicID
		// dropAborted is the replacement's DropAborted.
		dropAborted []int64
		want        int16
	}{
		{name: "gap in new", old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) },
			new: []Chunk{merged("m", 0, 2), merged("n", 3, 5)}, want: kerr.InvalidRequest.Code},
		{name: "new too short", old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) },
			new: []Chunk{merged("m", 0, 4)}, want: kerr.InvalidRequest.Code},
		{name: "new starts elsewhere", old: func(p *Partition) []ChunkRef { return refs(p, 1, 3) },
			new: []Chunk{merged("m", 0, 9)}, want: kerr.InvalidRequest.Code},
		{name: "old not contiguous", old: func(p *Partition) []ChunkRef { return []ChunkRef{RefOf(&p.Chunks[0]), RefOf(&p.Chunks[2])} },
			new: []Chunk{merged("m", 0, 9)}, want: kerr.InvalidRequest.Code},
		{name: "no new chunks", old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) }, want: kerr.InvalidRequest.Code},
		{name: "empty object name", old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) },
			new: []Chunk{merged("", 0, 5)}, want: kerr.InvalidRequest.Code},
		{name: "retention dropped the first chunk",
			before: []Command{{DeleteRecords: &DeleteRecords{Topic: "t", Partition: 0, Offset: 3}}},
			old:    func(p *Partition) []ChunkRef { return refs(p, 0, 2) }, new: []Chunk{merged("m", 0, 5)}, want: CodeStale},
		{name: "old chunk unknown", old: func(p *Partition) []ChunkRef {
			r := refs(p, 0, 2)
			r[1].Pos++
			return r
		}, new: []Chunk{merged("m", 0, 5)}, want: CodeStale},
		{name: "old runs past the end", old: func(p *Partition) []ChunkRef {
			return append(refs(p, 1, 3), ChunkRef{Object: "x", BaseOffset: 9, NextOffset: 10})
		}, new: []Chunk{merged("m", 3, 10)}, want: CodeStale},
		{name: "recreated topic", id: &TopicID{1}, old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) },
			new: []Chunk{merged("m", 0, 5)}, want: kerr.UnknownTopicOrPartition.Code},
		{name: "an aborted marker outside the replaced offsets", old: func(p *Partition) []ChunkRef { return refs(p, 0, 2) },
			new: []Chunk{merged("m", 0, 5)}, dropAborted: []int64{5}, want: kerr.InvalidRequest.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, id := threeChunks(t)
			old := tc.old(s.Partition("t", 0)) // read before the changes
			applyAll(t, s, tc.before...)
			if tc.id != nil {
				id = *tc.id
			}
			before := append([]Chunk(nil), s.Partition("t", 0).Chunks...)
			r := applyAll(t, s, Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: old, New: tc.new, DropAborted: tc.dropAborted}})
			if r[0].Code != tc.want {
				t.Fatalf("code %d, want %d", r[0].Code, tc.want)
			}
			if !reflect.DeepEqual(s.Partition("t", 0).Chunks, before) {
				t.Fatal("a refused replacement changed the chunks")
			}
		})
	}
}

func TestReplaceChunksRecordsCleaned(t *testing.T) {
	s, id := threeChunks(t)
	p := s.Partition("t", 0)
	applyAll(t, s, Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: refs(p, 0, 3),
		New: []Chunk{merged("m", 0, 9)}, Cleaned: 9}})
	if got := s.Progress(id, 0).Cleaned; got != 9 {
		t.Fatalf("cleaned %d, want 9", got)
	}
}

func TestMarkGarbage(t *testing.T) {
	s, id := threeChunks(t)
	p := s.Partition("t", 0)
	applyAll(t, s, Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: refs(p, 0, 2),
		New: []Chunk{merged("segments/dd/m.seg", 0, 5)}}})
	applyAll(t, s, Command{MarkGarbage: &MarkGarbage{Objects: []string{"segments/aa/a.seg", "segments/bb/b.seg", "segments/cc/c.seg"}}})
	marked := s.Time
	want := map[string]int64{"segments/aa/a.seg": marked, "segments/bb/b.seg": marked}
	if !reflect.DeepEqual(s.Garbage, want) {
		t.Fatalf("garbage %v, want %v (c is still referenced)", s.Garbage, want)
	}
	// Marking again keeps the first time.
	applyAll(t, s, Command{MarkGarbage: &MarkGarbage{Objects: []string{"segments/aa/a.seg"}}})
	if s.Garbage["segments/aa/a.seg"] != marked {
		t.Fatal("marking again moved the time")
	}
	applyAll(t, s, Command{ForgetGarbage: &ForgetGarbage{Objects: []string{"segments/aa/a.seg"}}})
	if _, ok := s.Garbage["segments/aa/a.seg"]; ok || len(s.Garbage) != 1 {
		t.Fatalf("garbage after forget: %v", s.Garbage)
	}
	if refs := s.Referenced(); !refs["segments/dd/m.seg"] || !refs["segments/cc/c.seg"] || len(refs) != 2 {
		t.Fatalf("Referenced() = %v", refs)
	}
}

func TestExportProgress(t *testing.T) {
	s, id := threeChunks(t)
	begin := func(prev, from, to int64) Command {
		return Command{BeginExport: &BeginExport{Topic: "t", TopicID: id, Partition: 0, Prev: prev, From: from, To: to}}
	}
	commitE := func(from, to int64) Command {
		return Command{CommitExport: &CommitExport{Topic: "t", TopicID: id, Partition: 0, From: from, To: to}}
	}
	codes := func(r []Result) []int16 {
		var out []int16
		for _, x := range r {
			out = append(out, x.Code)
		}
		return out
	}
	r := applyAll(t, s,
		commitE(0, 5),    // nothing pending
		begin(0, 0, 10),  // past the high watermark
		begin(0, 1, 5),   // skips records that exist
		begin(0, 0, 5),   // ok
		begin(0, 0, 5),   // already pending
		commitE(0, 4),    // not the pending range
		commitE(0, 5),    // ok
		commitE(0, 5),    // again: stale
		begin(0, 5, 9),   // wrong previous
		begin(5, 5, 9),   // ok
		commitE(5, 9),    // ok
		begin(9, 9, 10),  // beyond the log
		begin(9, 10, 10), // empty
	)
	want := []int16{CodeStale, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, 0, CodeStale, CodeStale, 0, CodeStale,
		CodeStale, 0, 0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
	if got := codes(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("codes %v, want %v", got, want)
	}
	if pr := s.Progress(id, 0); pr.Exported != 9 || pr.ExportTo != 0 || pr.ExportTime != s.Time-2000 {
		t.Fatalf("progress %+v", pr)
	}

	// Records deleted below the exported offset: the next range may start
	// at the log start.
	s2, id2 := threeChunks(t)
	applyAll(t, s2, Command{DeleteRecords: &DeleteRecords{Topic: "t", Partition: 0, Offset: 4}})
	r = applyAll(t, s2, Command{BeginExport: &BeginExport{Topic: "t", TopicID: id2, Partition: 0, Prev: 0, From: 4, To: 9}})
	if r[0].Code != 0 {
		t.Fatalf("begin at the log start after deletion: code %d", r[0].Code)
	}

	// A deleted topic's progress is dropped the next time any is recorded.
	applyAll(t, s, create("u", 1))
	uid := s.Topic("u").ID
	applyAll(t, s, Command{DeleteTopic: &DeleteTopic{Name: "t"}})
	applyAll(t, s, commit("u", uid, 0, plain(2)),
		Command{BeginExport: &BeginExport{Topic: "u", TopicID: uid, Partition: 0, Prev: 0, From: 0, To: 2}})
	if _, ok := s.Compaction[id]; ok || s.Compaction[uid] == nil {
		t.Fatalf("progress of a deleted topic kept: %v", s.Compaction)
	}
}

// The new state survives a snapshot.
func TestCompactionStateSnapshot(t *testing.T) {
	s, id := threeChunks(t)
	p := s.Partition("t", 0)
	applyAll(t, s,
		Command{ReplaceChunks: &ReplaceChunks{Topic: "t", TopicID: id, Partition: 0, Old: refs(p, 0, 2), New: []Chunk{merged("m", 0, 5)}, Cleaned: 5}},
		Command{MarkGarbage: &MarkGarbage{Objects: []string{"segments/aa/a.seg"}}},
		Command{BeginExport: &BeginExport{Topic: "t", TopicID: id, Partition: 0, From: 0, To: 5}})
	data, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Garbage, s.Garbage) || !reflect.DeepEqual(got.Compaction, s.Compaction) {
		t.Fatalf("snapshot round trip: garbage %v / %v, progress %v / %v", got.Garbage, s.Garbage, got.Compaction, s.Compaction)
	}
}
