package journal

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyAll applies cmds as one entry each and returns the results.
func applyAll(t *testing.T, s *State, cmds ...Command) []Result {
	t.Helper()
	var out []Result
	for _, c := range cmds {
		res, err := s.Apply(&Entry{Version: EntryVersion, Seq: s.Seq + 1, Time: s.Time + 1000, Commands: []Command{c}})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		out = append(out, res[0])
	}
	return out
}

func create(name string, parts int32) Command {
	return Command{CreateTopic: &CreateTopic{Name: name, Partitions: parts}}
}

func TestTopicCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmds []Command
		want []int16 // result codes
	}{
		{"create", []Command{create("orders", 3)}, []int16{0}},
		{"create twice", []Command{create("orders", 3), create("orders", 1)}, []int16{0, kerr.TopicAlreadyExists.Code}},
		{"bad names", []Command{create("", 1), create("a b", 1), create("..", 1), create(string(make([]byte, 250)), 1)},
			[]int16{kerr.InvalidTopicException.Code, kerr.InvalidTopicException.Code, kerr.InvalidTopicException.Code, kerr.InvalidTopicException.Code}},
		{"bad partition counts", []Command{create("a", 0), create("b", -1), create("c", MaxPartitions+1)},
			[]int16{kerr.InvalidPartitions.Code, kerr.InvalidPartitions.Code, kerr.InvalidPartitions.Code}},
		{"delete", []Command{create("a", 1), {DeleteTopic: &DeleteTopic{Name: "a"}}, {DeleteTopic: &DeleteTopic{Name: "a"}}},
			[]int16{0, 0, kerr.UnknownTopicOrPartition.Code}},
		{"grow partitions", []Command{create("a", 2),
			{CreatePartitions: &CreatePartitions{Name: "a", Count: 4}},
			{CreatePartitions: &CreatePartitions{Name: "a", Count: 4}},
			{CreatePartitions: &CreatePartitions{Name: "missing", Count: 4}}},
			[]int16{0, 0, kerr.InvalidPartitions.Code, kerr.UnknownTopicOrPartition.Code}},
		{"two kinds in one command", []Command{{CreateTopic: &CreateTopic{Name: "a", Partitions: 1}, DeleteTopic: &DeleteTopic{Name: "a"}}},
			[]int16{kerr.InvalidRequest.Code}},
		{"empty command", []Command{{}}, []int16{kerr.InvalidRequest.Code}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			res := applyAll(t, s, tc.cmds...)
			for i := range res {
				if res[i].Code != tc.want[i] {
					t.Errorf("command %d (%s): code %d, want %d", i, tc.cmds[i].kind(), res[i].Code, tc.want[i])
				}
			}
		})
	}
}

func TestRecreatedTopicGetsNewID(t *testing.T) {
	s := NewState()
	r := applyAll(t, s, create("a", 1), Command{DeleteTopic: &DeleteTopic{Name: "a"}}, create("a", 1))
	if r[0].TopicID == r[2].TopicID {
		t.Fatal("a recreated topic kept its id")
	}
	if s.TopicByID(r[0].TopicID) != nil || s.TopicByID(r[2].TopicID) == nil {
		t.Fatal("TopicByID does not follow deletion and creation")
	}
}

// commit returns a CommitSegment command with one chunk per batch list.
func commit(topic string, id TopicID, partition int32, batches ...Batch) Command {
	return Command{CommitSegment: &CommitSegment{Object: "segments/00/x.seg", Chunks: []ChunkCommit{{
		Topic: topic, TopicID: id, Partition: partition, Len: 10, RawLen: 10, Batches: batches,
	}}}}
}

func plain(n int32) Batch { return Batch{Records: n, ProducerID: -1} }

func TestCommitAssignsOffsets(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 2))[0].TopicID
	r := applyAll(t, s,
		commit("t", id, 0, plain(3), plain(2)),
		commit("t", id, 0, plain(1)),
		commit("t", id, 1, plain(5)),
	)
	want := [][]int64{{0, 3}, {5}, {0}}
	for i := range r {
		for j, br := range r[i].Chunks[0] {
			if br.Code != 0 || br.BaseOffset != want[i][j] {
				t.Errorf("commit %d batch %d: %+v, want offset %d", i, j, br, want[i][j])
			}
		}
	}
	p := s.Partition("t", 0)
	if p.NextOffset != 6 || len(p.Chunks) != 2 || p.Chunks[1].BaseOffset != 5 || p.Chunks[1].NextOffset != 6 {
		t.Fatalf("partition 0 = %+v", p)
	}
	for _, tc := range []struct {
		offset int64
		chunk  int
	}{{0, 0}, {4, 0}, {5, 1}, {6, -1}, {-1, -1}} {
		if got := p.FindChunk(tc.offset); got != tc.chunk {
			t.Errorf("FindChunk(%d) = %d, want %d", tc.offset, got, tc.chunk)
		}
	}
}

func TestCommitToWrongTopicFails(t *testing.T) {
	s := NewState()
	old := applyAll(t, s, create("t", 1))[0].TopicID
	applyAll(t, s, Command{DeleteTopic: &DeleteTopic{Name: "t"}}, create("t", 1))
	for _, c := range []Command{
		commit("t", old, 0, plain(1)),             // written for the deleted topic
		commit("missing", old, 0, plain(1)),       // no such topic
		commit("t", s.Topic("t").ID, 1, plain(1)), // no such partition
	} {
		r := applyAll(t, s, c)[0]
		if r.Chunks[0][0].Code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("%+v: code %d", c.CommitSegment.Chunks[0], r.Chunks[0][0].Code)
		}
	}
	if p := s.Partition("t", 0); p.NextOffset != 0 {
		t.Errorf("rejected chunks took offsets: next = %d", p.NextOffset)
	}
}

func TestIdempotentProducer(t *testing.T) {
	pb := func(epoch int16, seq, n int32) Batch {
		return Batch{Records: n, ProducerID: 0, ProducerEpoch: epoch, BaseSequence: seq}
	}
	type step struct {
		batch      Batch
		wantCode   int16
		wantOffset int64
		wantDup    bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{pb(0, 0, 2), 0, 0, false}, {pb(0, 2, 3), 0, 2, false}, {pb(0, 5, 1), 0, 5, false}}},
		{"retry of the last batch is a duplicate", []step{{pb(0, 0, 2), 0, 0, false}, {pb(0, 2, 3), 0, 2, false}, {pb(0, 2, 3), 0, 2, true}}},
		{"retry of an older batch is a duplicate", []step{{pb(0, 0, 2), 0, 0, false}, {pb(0, 2, 3), 0, 2, false}, {pb(0, 0, 2), 0, 0, true}}},
		{"gap", []step{{pb(0, 0, 2), 0, 0, false}, {pb(0, 5, 1), kerr.OutOfOrderSequenceNumber.Code, -1, false}}},
		{"old epoch", []step{{pb(1, 0, 1), 0, 0, false}, {pb(0, 1, 1), kerr.InvalidProducerEpoch.Code, -1, false}}},
		{"new epoch restarts at 0", []step{{pb(0, 0, 1), 0, 0, false}, {pb(1, 0, 1), 0, 1, false}}},
		{"new epoch must start at 0", []step{{pb(0, 0, 1), 0, 0, false}, {pb(1, 4, 1), kerr.OutOfOrderSequenceNumber.Code, -1, false}}},
		{"sequence wraps", []step{{pb(0, 2147483646, 2), 0, 0, false}, {pb(0, 0, 1), 0, 2, false}}},
		{"only five batches remembered", []step{
			{pb(0, 0, 1), 0, 0, false}, {pb(0, 1, 1), 0, 1, false}, {pb(0, 2, 1), 0, 2, false},
			{pb(0, 3, 1), 0, 3, false}, {pb(0, 4, 1), 0, 4, false}, {pb(0, 5, 1), 0, 5, false},
			{pb(0, 1, 1), 0, 1, true},
			{pb(0, 0, 1), kerr.OutOfOrderSequenceNumber.Code, -1, false}}},
		{"unallocated producer id", []step{{Batch{Records: 1, ProducerID: 99}, kerr.UnknownProducerID.Code, -1, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			id := applyAll(t, s, create("t", 1), Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 10}})[0].TopicID
			for i, st := range tc.steps {
				br := applyAll(t, s, commit("t", id, 0, st.batch))[0].Chunks[0][0]
				if br.Code != st.wantCode || br.BaseOffset != st.wantOffset || br.Duplicate != st.wantDup {
					t.Fatalf("step %d %+v: got %+v, want code %d offset %d dup %v", i, st.batch, br, st.wantCode, st.wantOffset, st.wantDup)
				}
			}
		})
	}
}

// A chunk with a duplicate in the middle serves only the accepted batches:
// the duplicate is listed in Skip and takes no offsets.
func TestDuplicateInsideChunkIsSkipped(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 1), Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 1}})[0].TopicID
	applyAll(t, s, commit("t", id, 0, Batch{Records: 2, ProducerID: 0}))
	r := applyAll(t, s, commit("t", id, 0, plain(1), Batch{Records: 2, ProducerID: 0}, plain(4)))[0].Chunks[0]
	if !r[1].Duplicate || r[1].BaseOffset != 0 || r[0].BaseOffset != 2 || r[2].BaseOffset != 3 {
		t.Fatalf("results = %+v", r)
	}
	c := s.Partition("t", 0).Chunks[1]
	if len(c.Skip) != 1 || c.Skip[0] != 1 || c.BaseOffset != 2 || c.NextOffset != 7 {
		t.Fatalf("chunk = %+v", c)
	}
}

func TestDeleteRecords(t *testing.T) {
	s := NewState()
	id := applyAll(t, s, create("t", 1))[0].TopicID
	applyAll(t, s, commit("t", id, 0, plain(5)), commit("t", id, 0, plain(5)), commit("t", id, 0, plain(5)))
	for _, tc := range []struct {
		offset     int64
		wantCode   int16
		wantStart  int64
		wantChunks int
	}{
		{3, 0, 3, 3},
		{2, 0, 3, 3}, // never backwards
		{10, 0, 10, 1},
		{16, kerr.OffsetOutOfRange.Code, 10, 1},
		{-1, 0, 15, 0},
	} {
		r := applyAll(t, s, Command{DeleteRecords: &DeleteRecords{Topic: "t", Offset: tc.offset}})[0]
		p := s.Partition("t", 0)
		if r.Code != tc.wantCode || p.StartOffset != tc.wantStart || len(p.Chunks) != tc.wantChunks {
			t.Errorf("DeleteRecords(%d): code %d start %d chunks %d; want %d %d %d",
				tc.offset, r.Code, p.StartOffset, len(p.Chunks), tc.wantCode, tc.wantStart, tc.wantChunks)
		}
	}
	if got := s.Partition("t", 0).FindChunk(14); got != -1 {
		t.Errorf("FindChunk below the start = %d", got)
	}
}

func TestGroupOffsets(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 2))
	r := applyAll(t, s, Command{CommitOffsets: &CommitOffsets{Group: "g", Offsets: []OffsetCommit{
		{Topic: "t", Partition: 0, Offset: 7}, {Topic: "t", Partition: 5, Offset: 1}}}})[0]
	if r.Partitions[0] != 0 || r.Partitions[1] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("codes = %v", r.Partitions)
	}
	if o, ok := s.GroupOffset("g", "t", 0); !ok || o.Offset != 7 {
		t.Fatalf("offset = %+v, %v", o, ok)
	}
	applyAll(t, s, Command{DeleteTopic: &DeleteTopic{Name: "t"}})
	if _, ok := s.Groups["g"]; ok {
		t.Fatal("offsets of a deleted topic survived")
	}
}

func TestApplyRejectsWrongSequenceAndNewerVersions(t *testing.T) {
	s := NewState()
	if _, err := s.Apply(&Entry{Version: EntryVersion, Seq: 2}); err == nil {
		t.Error("applied entry 2 to an empty state")
	}
	if _, err := s.Apply(&Entry{Version: EntryVersion + 1, Seq: 1}); err == nil {
		t.Error("applied an entry of a newer format")
	}
}

func TestAlterConfigsReplace(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  AlterConfigs
		want map[string]string
	}{
		{"incremental keeps the rest", AlterConfigs{Set: map[string]string{"retention.ms": "1"}},
			map[string]string{"retention.ms": "1", "cleanup.policy": "compact"}},
		{"replace drops the rest", AlterConfigs{Set: map[string]string{"retention.ms": "1"}, Replace: true},
			map[string]string{"retention.ms": "1"}},
		{"replace with nothing", AlterConfigs{Replace: true}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			tc.cmd.Topic = "a"
			res := applyAll(t, s,
				Command{CreateTopic: &CreateTopic{Name: "a", Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact", "retention.ms": "5"}}},
				Command{AlterConfigs: &tc.cmd})
			if res[1].Code != 0 {
				t.Fatalf("code %d", res[1].Code)
			}
			got := s.Topic("a").Configs
			if len(got) != len(tc.want) {
				t.Fatalf("configs %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("configs %v, want %v", got, tc.want)
				}
			}
		})
	}
}
