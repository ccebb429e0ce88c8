package journal

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// txnBatch is a CommitSegment of one transactional batch of n records.
func txnBatch(s *State, topic string, part int32, pid int64, epoch int16, seq, n int32) Command {
	return Command{CommitSegment: &CommitSegment{Object: "segments/00/s.seg", Chunks: []ChunkCommit{{
		Topic: topic, TopicID: s.Topic(topic).ID, Partition: part, Len: 1, RawLen: 1,
		Batches: []Batch{{Records: n, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Txn: true}},
	}}}}
}

// The transaction commands as a table: each step's command and the code
// its result (or its batch) must have.
func TestTxnCommands(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 2))
	step := func(name string, c Command, want int16) Result {
		t.Helper()
		r := applyAll(t, s, c)[0]
		got := r.Code
		if c.CommitSegment != nil {
			got = r.Chunks[0][0].Code
		}
		if got != want {
			t.Errorf("%s: code %d, want %d", name, got, want)
		}
		return r
	}
	init := step("init", Command{InitTxn: &InitTxn{TxnID: "x", TimeoutMs: 60000, ProducerID: -1, Epoch: -1}}, 0)
	pid, epoch := init.FirstProducerID, init.ProducerEpoch
	for _, tc := range []struct {
		name string
		cmd  Command
		want int16
	}{
		{"init without timeout", Command{InitTxn: &InitTxn{TxnID: "y", ProducerID: -1, Epoch: -1}}, kerr.InvalidRequest.Code},
		{"batch before add", txnBatch(s, "t", 0, pid, epoch, 0, 2), kerr.InvalidTxnState.Code},
		{"end before begin", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Commit: true}}, kerr.InvalidTxnState.Code},
		{"add unknown id", Command{AddTxnPartitions: &AddTxnPartitions{TxnID: "nope", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"t", 0}}}}, kerr.InvalidProducerIDMapping.Code},
		{"add wrong epoch", Command{AddTxnPartitions: &AddTxnPartitions{TxnID: "x", ProducerID: pid, Epoch: epoch + 1, Partitions: []TopicPartition{{"t", 0}}}}, kerr.ProducerFenced.Code},
		{"add", Command{AddTxnPartitions: &AddTxnPartitions{TxnID: "x", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"t", 0}}, Groups: []string{"g"}}}, 0},
		{"batch on a partition not added", txnBatch(s, "t", 1, pid, epoch, 0, 2), kerr.InvalidTxnState.Code},
		{"batch", txnBatch(s, "t", 0, pid, epoch, 0, 2), 0},
		{"batch at another epoch", txnBatch(s, "t", 0, pid, epoch+1, 0, 2), kerr.InvalidProducerEpoch.Code},
		{"offsets", Command{TxnOffsetCommit: &TxnOffsetCommit{TxnID: "x", Group: "g", ProducerID: pid, Epoch: epoch, Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}}}, 0},
		{"offsets of a group not added", Command{TxnOffsetCommit: &TxnOffsetCommit{TxnID: "x", Group: "h", ProducerID: pid, Epoch: epoch, Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 7}}}}, kerr.InvalidTxnState.Code},
		{"timeout abort too early", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Timeout: true}}, kerr.InvalidTxnState.Code},
		{"commit", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Commit: true}}, 0},
		{"commit retried", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Commit: true}}, 0},
		{"abort after commit", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch}}, kerr.InvalidTxnState.Code},
	} {
		step(tc.name, tc.cmd, tc.want)
	}
	p := s.Partition("t", 0)
	if p.NextOffset != 3 || p.LastStable() != 3 || len(p.Aborted) != 0 || p.Chunks[len(p.Chunks)-1].Marker == nil || !p.Chunks[len(p.Chunks)-1].Marker.Commit {
		t.Errorf("partition after the commit: %+v", p)
	}
	if o, ok := s.GroupOffset("g", "t", 0); !ok || o.Offset != 7 {
		t.Errorf("offset committed in the transaction: %+v %v", o, ok)
	}
}

// Transaction version 2: a Produce v12 batch (TxnAdd) adds its partition
// and a TxnOffsetCommit v5 (AddGroup) its group, beginning the
// transaction from Empty and again after each completion, in the entry
// that stores them; the epoch and producer checks still come first, and
// a batch without the flag is refused as before.
func TestTxnVersion2AddsWithTheData(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 2))
	step := func(name string, c Command, want int16) {
		t.Helper()
		r := applyAll(t, s, c)[0]
		got := r.Code
		if c.CommitSegment != nil {
			got = r.Chunks[0][0].Code
		} else if len(r.Partitions) > 0 && got == 0 {
			got = r.Partitions[0]
		}
		if got != want {
			t.Errorf("%s: code %d, want %d", name, got, want)
		}
	}
	v2 := func(c Command) Command {
		for i := range c.CommitSegment.Chunks {
			for j := range c.CommitSegment.Chunks[i].Batches {
				c.CommitSegment.Chunks[i].Batches[j].TxnAdd = true
			}
		}
		return c
	}
	init := applyAll(t, s, Command{InitTxn: &InitTxn{TxnID: "x", TimeoutMs: 60000, ProducerID: -1, Epoch: -1}})[0]
	pid, epoch := init.FirstProducerID, init.ProducerEpoch
	offsets := func(group string, add bool, e int16) Command {
		return Command{TxnOffsetCommit: &TxnOffsetCommit{TxnID: "x", Group: group, ProducerID: pid, Epoch: e,
			Offsets: []OffsetCommit{{Topic: "t", Partition: 1, Offset: 5}}, AddGroup: add}}
	}
	step("a v11 batch is not added", txnBatch(s, "t", 0, pid, epoch, 0, 2), kerr.InvalidTxnState.Code)
	step("a v12 batch at another epoch", v2(txnBatch(s, "t", 0, pid, epoch+1, 0, 2)), kerr.InvalidProducerEpoch.Code)
	step("a v12 batch of an unknown producer", v2(txnBatch(s, "t", 0, pid+1, epoch, 0, 2)), kerr.InvalidTxnState.Code)
	step("a v12 batch begins the transaction", v2(txnBatch(s, "t", 0, pid, epoch, 0, 2)), 0)
	if tx := s.Txn("x"); tx.Status != TxnOngoing || !tx.HasPartition("t", 0) || tx.StartTime != s.Time {
		t.Fatalf("after the first v12 batch: %+v", tx)
	}
	step("a second partition joins", v2(txnBatch(s, "t", 1, pid, epoch, 0, 1)), 0)
	step("a v4 offset commit is not added", offsets("g", false, epoch), kerr.InvalidTxnState.Code)
	step("a v5 offset commit adds its group", offsets("g", true, epoch), 0)
	step("commit, bumping the epoch", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Commit: true, Bump: true}}, 0)
	for _, part := range []int32{0, 1} {
		if p := s.Partition("t", part); p.LastStable() != p.NextOffset || p.Chunks[len(p.Chunks)-1].Marker == nil {
			t.Errorf("partition %d after the commit: %+v", part, p)
		}
	}
	if o, ok := s.GroupOffset("g", "t", 1); !ok || o.Offset != 5 {
		t.Errorf("offset committed in the transaction: %+v %v", o, ok)
	}
	step("a batch at the old epoch after the bump", v2(txnBatch(s, "t", 0, pid, epoch, 2, 1)), kerr.InvalidProducerEpoch.Code)
	epoch++
	// A transaction whose produce failed (or is still in flight) is
	// aborted from CompleteCommit: the epoch moves on, and the late
	// produce is fenced.
	step("abort with nothing added", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Bump: true}}, 0)
	step("that abort retried", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Bump: true}}, 0)
	step("the late produce", v2(txnBatch(s, "t", 0, pid, epoch, 0, 1)), kerr.InvalidProducerEpoch.Code)
	epoch++
	step("the next transaction begins with an offset commit", offsets("h", true, epoch), 0)
	if tx := s.Txn("x"); tx.Status != TxnOngoing || len(tx.Partitions) != 0 || len(tx.Groups) != 1 {
		t.Fatalf("the next transaction holds what the last one did: %+v", tx)
	}
	step("and its data", v2(txnBatch(s, "t", 1, pid, epoch, 0, 1)), 0)
	step("abort", Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Bump: true}}, 0)
	if p := s.Partition("t", 1); len(p.Aborted) != 1 {
		t.Errorf("aborted index of partition 1: %+v", p.Aborted)
	}
	if _, ok := s.GroupOffset("h", "t", 1); ok {
		t.Error("an aborted transaction's offset was committed")
	}
}

// An operator's abort (WriteTxnMarkers) aborts the producer's Ongoing
// transaction on every partition whatever its age and fences the
// producer; at an old epoch it is refused, and with nothing open it
// changes nothing.
func TestTxnForcedAbort(t *testing.T) {
	s := NewState()
	applyAll(t, s, create("t", 2))
	init := applyAll(t, s, Command{InitTxn: &InitTxn{TxnID: "x", TimeoutMs: 60000, ProducerID: -1, Epoch: -1}})[0]
	pid, epoch := init.FirstProducerID, init.ProducerEpoch
	forced := func(e int16) Result {
		return applyAll(t, s, Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: e, Forced: true}})[0]
	}
	if r := forced(epoch); r.Code != 0 || s.Txn("x").Epoch != epoch {
		t.Fatalf("forced abort with nothing open: %+v, epoch %d", r, s.Txn("x").Epoch)
	}
	applyAll(t, s, Command{AddTxnPartitions: &AddTxnPartitions{TxnID: "x", ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"t", 0}, {"t", 1}}}})
	for _, part := range []int32{0, 1} {
		if r := applyAll(t, s, txnBatch(s, "t", part, pid, epoch, 0, 2))[0]; r.Chunks[0][0].Code != 0 {
			t.Fatalf("batch on %d: %+v", part, r)
		}
	}
	if r := forced(epoch - 1); r.Code != kerr.ProducerFenced.Code {
		t.Errorf("forced abort at an old epoch: code %d", r.Code)
	}
	if r := forced(epoch); r.Code != 0 {
		t.Fatalf("forced abort: %+v", r)
	}
	tx := s.Txn("x")
	if tx.Status != TxnCompleteAbort || tx.Epoch != epoch+1 {
		t.Errorf("after the forced abort: %+v", tx)
	}
	for _, part := range []int32{0, 1} {
		p := s.Partition("t", part)
		if len(p.Aborted) != 1 || p.LastStable() != p.NextOffset || p.Chunks[len(p.Chunks)-1].Marker == nil {
			t.Errorf("partition %d after the forced abort: %+v", part, p)
		}
	}
	if r := applyAll(t, s, Command{EndTxn: &EndTxn{TxnID: "x", ProducerID: pid, Epoch: epoch, Commit: true}})[0]; r.Code != kerr.ProducerFenced.Code {
		t.Errorf("the fenced producer's commit: code %d", r.Code)
	}
}

// Replaying the same entries gives the same state, byte for byte, and a
// state decoded from a snapshot mid-way goes on to the same end.
func TestTxnReplayIsDeterministic(t *testing.T) {
	var entries []*Entry
	s := NewState()
	add := func(cmds ...Command) []Result {
		e := &Entry{Version: EntryVersion, Seq: s.Seq + 1, Time: s.Time + 1000, Commands: cmds}
		raw, _ := json.Marshal(e)
		var copied Entry
		json.Unmarshal(raw, &copied)
		entries = append(entries, &copied)
		res, err := s.Apply(e)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	add(create("t", 3))
	for i, id := range []string{"a", "b"} {
		r := add(Command{InitTxn: &InitTxn{TxnID: id, TimeoutMs: 3000, ProducerID: -1, Epoch: -1}})[0]
		pid, epoch := r.FirstProducerID, r.ProducerEpoch
		add(Command{AddTxnPartitions: &AddTxnPartitions{TxnID: id, ProducerID: pid, Epoch: epoch, Partitions: []TopicPartition{{"t", 0}, {"t", 1}, {"t", 2}}}})
		add(txnBatch(s, "t", 0, pid, epoch, 0, 4), txnBatch(s, "t", 2, pid, epoch, 0, 1))
		add(Command{EndTxn: &EndTxn{TxnID: id, ProducerID: pid, Epoch: epoch, Commit: i == 0, Bump: true}})
	}
	// One left open, then timed out.
	r := add(Command{InitTxn: &InitTxn{TxnID: "c", TimeoutMs: 3000, ProducerID: -1, Epoch: -1}})[0]
	add(Command{AddTxnPartitions: &AddTxnPartitions{TxnID: "c", ProducerID: r.FirstProducerID, Epoch: r.ProducerEpoch, Partitions: []TopicPartition{{"t", 1}}}})
	add(txnBatch(s, "t", 1, r.FirstProducerID, r.ProducerEpoch, 0, 2))
	mid := s.Seq
	midSnap, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	if r := add(Command{EndTxn: &EndTxn{TxnID: "c", ProducerID: r.FirstProducerID, Epoch: r.ProducerEpoch, Timeout: true}})[0]; r.Code != kerr.InvalidTxnState.Code {
		t.Errorf("timeout abort before the timeout: code %d", r.Code)
	}
	s.Time += 5000 // the next entry's writer's clock is 5s on: past the timeout
	add(Command{EndTxn: &EndTxn{TxnID: "c", ProducerID: r.FirstProducerID, Epoch: r.ProducerEpoch, Timeout: true}})
	want, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	fromSnap, err := DecodeSnapshot(midSnap)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*State{"full replay": NewState(), "from the snapshot": fromSnap} {
		for _, e := range entries[st.Seq:] {
			if _, err := st.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := EncodeSnapshot(st); !bytes.Equal(got, want) {
			t.Errorf("%s: the state differs from the one applied live", name)
		}
	}
	if mid == 0 {
		t.Fatal("no snapshot taken")
	}
	// b aborted on 0 and 2 (it wrote nothing to 1); c timed out on 1.
	for part, first := range map[int32]int64{0: 5, 1: 2, 2: 2} {
		p := s.Partition("t", part)
		if len(p.Aborted) != 1 || p.Aborted[0].FirstOffset != first || p.LastStable() != p.NextOffset {
			t.Errorf("partition %d at the end: aborted %+v (want one from %d), LSO %d, HWM %d", part, p.Aborted, first, p.LastStable(), p.NextOffset)
		}
	}
}
