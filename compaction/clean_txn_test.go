package compaction_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// keyedTxn produces key, value pairs in one transaction and commits or
// aborts it.
func keyedTxn(ctx context.Context, t *testing.T, p *kgo.Client, commit bool, kv ...string) {
	t.Helper()
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(kv); i += 2 {
		if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1])}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

// Cleaning a compacted topic drops the records of aborted transactions
// (they never count as a key's latest value) and keeps the transaction
// markers, so a read_committed consumer still reads the committed values,
// including those the same producer commits after an abort; it cleans
// nothing at or above an open transaction.
func TestCleanHonoursTransactions(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "clean-txn"
	createTopic(t, seeds, topic, 1, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})
	ctx := testContext(t, time.Minute)
	p := newClient(t, seeds, kgo.TransactionalID("clean-txn"), kgo.DefaultProduceTopic(topic))
	txn := func(commit bool, kv ...string) { t.Helper(); keyedTxn(ctx, t, p, commit, kv...) }
	txn(true, "a", "a1", "b", "b1")
	txn(false, "a", "a2-aborted", "c", "c-aborted")
	txn(true, "b", "b2")
	var clk skewClock
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: 50 * time.Millisecond, Now: clk.Now})
	clk.Advance(time.Second)
	st := tl.runOnce(t)
	if st.CleanedRecords == 0 {
		t.Fatalf("the pass cleaned nothing: %+v", st)
	}
	var cleaned, hwm int64
	tl.log.View(func(s *journal.State) {
		tp := s.Topic(topic)
		cleaned, hwm = s.Progress(tp.ID, 0).Cleaned, tp.Partitions[0].NextOffset
	})
	if cleaned != hwm {
		t.Fatalf("cleaned to %d of %d", cleaned, hwm)
	}
	read := func(iso kgo.IsolationLevel) map[string]string {
		cl := newClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
		got := map[string]string{}
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v", got)
			}
			done := false
			fs.EachRecord(func(r *kgo.Record) {
				got[string(r.Key)] = string(r.Value)
				done = done || string(r.Value) == "b2"
			})
			if done {
				return got
			}
		}
	}
	want := map[string]string{"a": "a1", "b": "b2"}
	waitFor(t, 10*time.Second, "the agent to see the cleaned chunks", func() bool { return len(read(kgo.ReadUncommitted())) == len(want) })
	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		if got := read(iso); len(got) != len(want) || got["a"] != "a1" || got["b"] != "b2" {
			t.Errorf("after cleaning, read %v, want %v", got, want)
		}
	}
}

// Merging small chunks folds transaction markers (chunks without an
// object) into the merged objects as the control batches they are; the
// partition reads the same afterwards, read_committed and
// read_uncommitted.
func TestMergeKeepsTransactions(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "merge-txn"
	createTopic(t, seeds, topic, 1, nil)
	ctx := testContext(t, time.Minute)
	p := newClient(t, seeds, kgo.TransactionalID("merge-txn"), kgo.DefaultProduceTopic(topic))
	for i := range 6 {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "t%d-%d", i, j)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(i%2 == 0)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(iso kgo.IsolationLevel, last string) []string {
		cl := newClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
		var got []string
		for len(got) == 0 || got[len(got)-1] != last {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v", got)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		return got
	}
	committedBefore := read(kgo.ReadCommitted(), "t4-2")
	allBefore := read(kgo.ReadUncommitted(), "t5-2")
	if len(committedBefore) != 9 || len(allBefore) != 18 {
		t.Fatalf("before the merge: %d committed, %d in all; want 9 and 18", len(committedBefore), len(allBefore))
	}
	var clk skewClock
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: 50 * time.Millisecond, Now: clk.Now})
	clk.Advance(time.Second)
	st := tl.runOnce(t)
	if st.Merged == 0 {
		t.Fatalf("nothing merged: %+v", st)
	}
	markers := 0
	tl.log.View(func(s *journal.State) {
		for _, ch := range s.Partition(topic, 0).Chunks {
			if ch.Marker != nil {
				markers++
			}
		}
	})
	if markers == 6 {
		t.Errorf("no marker chunk was merged: %+v", st)
	}
	waitFor(t, 10*time.Second, "the agent to see the merged chunks", func() bool {
		n := 0
		c.Agents[0].Journal().View(func(s *journal.State) {
			for _, ch := range s.Partition(topic, 0).Chunks {
				if ch.Marker != nil {
					n++
				}
			}
		})
		return n == markers
	})
	if got := read(kgo.ReadCommitted(), "t4-2"); fmt.Sprint(got) != fmt.Sprint(committedBefore) {
		t.Errorf("read_committed after the merge: %v, before %v", got, committedBefore)
	}
	if got := read(kgo.ReadUncommitted(), "t5-2"); fmt.Sprint(got) != fmt.Sprint(allBefore) {
		t.Errorf("read_uncommitted after the merge: %v, before %v", got, allBefore)
	}
}

// A marker goes once its transaction has no record left and it is older
// than delete.retention.ms: a commit marker whose transaction still has a
// latest value stays; an aborted transaction's marker goes, and its entry
// in the aborted-transaction index with it. Until the horizon passes,
// every marker stays. read_committed reads the same before and after.
func TestCleanDropsSpentMarkers(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "clean-markers"
	createTopic(t, seeds, topic, 1, map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
		"delete.retention.ms": "60000"})
	ctx := testContext(t, time.Minute)
	p := newClient(t, seeds, kgo.TransactionalID("clean-markers"), kgo.DefaultProduceTopic(topic))
	txn := func(commit bool, kv ...string) { t.Helper(); keyedTxn(ctx, t, p, commit, kv...) }
	txn(true, "a", "a1")            // spent: a1 is superseded by a2
	txn(true, "a", "a2", "b", "b1") // a2 stays
	txn(false, "c", "c-aborted")    // its marker goes, and its index entry
	txn(true, "b", "b2")            // b2 stays
	txn(true, "d", "d1")            // spent: d1 is superseded outside a transaction
	plain := newClient(t, seeds, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("d"), Value: []byte("d2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	markers := func(l *journal.Log) (commits, aborts int) {
		t.Helper()
		if _, err := l.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		var chunks []journal.Chunk
		l.View(func(s *journal.State) { chunks = append(chunks, s.Partition(topic, 0).Chunks...) })
		for _, ch := range chunks {
			data, err := compaction.ReadChunk(ctx, c.Bucket, ch)
			if err != nil {
				t.Fatal(err)
			}
			for b, err := range recordbatch.Iterate(data) {
				if err != nil {
					t.Fatal(err)
				}
				if !b.Control() {
					continue
				}
				m, err := recordbatch.ParseMarker(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if m.Commit {
					commits++
				} else {
					aborts++
				}
			}
		}
		return commits, aborts
	}
	want := map[string]string{"a": "a2", "b": "b2", "d": "d2"}
	read := func() map[string]string {
		cl := newClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		got := map[string]string{}
		for got["d"] != "d2" {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %v", got)
			}
			fs.EachRecord(func(r *kgo.Record) { got[string(r.Key)] = string(r.Value) })
		}
		return got
	}

	var clk skewClock
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: 50 * time.Millisecond, Now: clk.Now})
	clk.Advance(time.Second)
	tl.runOnce(t)
	if commits, aborts := markers(tl.log); commits != 4 || aborts != 1 {
		t.Errorf("before delete.retention.ms: %d commit and %d abort markers, want all 4 and 1", commits, aborts)
	}
	tl.log.View(func(s *journal.State) {
		if a := s.Partition(topic, 0).Aborted; len(a) != 1 {
			t.Errorf("aborted-transaction index before the horizon: %+v", a)
		}
	})
	// Past the horizon; a little more data makes the partition dirty again.
	clk.Advance(2 * time.Minute)
	if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("d"), Value: []byte("d2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tl.runOnce(t)
	if commits, aborts := markers(tl.log); commits != 2 || aborts != 0 {
		t.Errorf("past delete.retention.ms: %d commit and %d abort markers, want 2 and 0", commits, aborts)
	}
	tl.log.View(func(s *journal.State) {
		if a := s.Partition(topic, 0).Aborted; len(a) != 0 {
			t.Errorf("aborted-transaction index after its marker went: %+v", a)
		}
	})
	waitFor(t, 10*time.Second, "the agent to see the cleaned chunks", func() bool {
		got := read()
		return len(got) == len(want) && got["a"] == "a2" && got["b"] == "b2"
	})
}
