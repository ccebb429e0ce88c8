package compaction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/segment"
)

// Merging while producers write and consumers tail and re-read the topic
// from the start: every consumer sees each partition's records at the
// offsets they were acknowledged at, with no hole and no duplicate, the
// partitions end up in a few merged objects, and the objects merged away
// are deleted after the grace period without failing a fetch.
//
// The agent writes every segment as an object of its own here, so that the
// merged-away objects are segments the garbage collector deletes; small
// segments inside journal entries are merged the same way but their entries
// stay for the journal's housekeeping (TestMergeInlineSegments).
func TestMergeUnderProduceAndFetch(t *testing.T) {
	c := startCluster(t, func(cfg *agent.Config) { cfg.InlineSegmentBytes = 0 })
	seeds := c.Seeds()
	const topic = "merge"
	createTopic(t, seeds, topic, 2, nil)
	tl := newTool(t, c.Bucket, compaction.Options{
		MergeTarget: 64 << 10, MergeWindow: 500 * time.Millisecond, Grace: 2 * time.Second,
		OrphanScanInterval: time.Hour,
	})
	ctx, cancel := context.WithCancel(testContext(t, 3*time.Minute))
	defer cancel()

	prod := newProducer(t, seeds, topic)
	var produced atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	wg.Go(func() {
		for i := 0; i < 60 && ctx.Err() == nil; i++ {
			if err := prod.produce(ctx, i*50, 50, 300, time.Time{}); err != nil {
				errc <- err
				return
			}
			produced.Add(50)
		}
	})
	// Readers: each reads the topic from the start to what it can, again
	// and again, checking every record it sees.
	var reads atomic.Int64
	for r := 0; r < 2; r++ {
		wg.Go(func() {
			for ctx.Err() == nil && produced.Load() < 3000 {
				if err := rereadOnce(ctx, seeds, topic, prod); err != nil {
					if ctx.Err() == nil {
						errc <- err
					}
					return
				}
				reads.Add(1)
			}
		})
	}
	var passes []compaction.Stats
	wg.Go(func() {
		for ctx.Err() == nil && produced.Load() < 3000 {
			st, err := tl.c.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				errc <- err
				return
			}
			passes = append(passes, st)
			time.Sleep(100 * time.Millisecond)
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case err := <-errc:
		cancel()
		<-done
		t.Fatal(err)
	case <-done:
	}
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	// Everything old enough is merged now, and the garbage goes after
	// the grace period: passes go on until some has gone (on a busy
	// machine the last merges may come late).
	var merged, deleted int
	for _, st := range passes {
		merged += st.Merged
		deleted += st.Deleted
	}
	for i, deadline := 0, time.Now().Add(30*time.Second); i < 2 || deleted == 0 && time.Now().Before(deadline); i++ {
		time.Sleep(2100 * time.Millisecond)
		st := tl.runOnce(t)
		passes = append(passes, st)
		merged += st.Merged
		deleted += st.Deleted
	}
	if merged == 0 || deleted == 0 {
		t.Fatalf("merged %d chunks and deleted %d objects over %d passes; want both", merged, deleted, len(passes))
	}
	for p := int32(0); p < 2; p++ {
		if n := chunkCount(t, tl.log, topic, p); n > 16 {
			t.Errorf("partition %d: %d chunks after merging about 450 KiB at 64 KiB", p, n)
		}
	}
	acked := prod.byOffset()
	got := readAll(t, seeds, topic)
	checkContiguous(t, got, acked)
	n := 0
	for p := range acked {
		n += len(acked[p])
		if len(got[p]) != len(acked[p]) {
			t.Errorf("partition %d: read %d records, %d acknowledged", p, len(got[p]), len(acked[p]))
		}
	}
	t.Logf("%d records, %d full re-reads during %d passes; %d chunks merged, %d objects deleted", n, reads.Load(), len(passes), merged, deleted)

	// Nothing left in the bucket that the journal does not reference, but
	// the garbage not yet due.
	var refs map[string]bool
	var garbage map[string]int64
	tl.log.View(func(s *journal.State) {
		refs = s.Referenced()
		garbage = s.Garbage
	})
	objects := 0
	for info, err := range c.Bucket.List(context.Background(), segment.Dir, "") {
		if err != nil {
			t.Fatal(err)
		}
		objects++
		if _, marked := garbage[info.Key]; !refs[info.Key] && !marked {
			t.Errorf("object %s is neither referenced nor marked", info.Key)
		}
	}
	t.Logf("%d objects in the bucket: %d referenced, %d marked garbage; last pass %+v", objects, len(refs), len(garbage), passes[len(passes)-1])
}

// rereadOnce reads the whole topic from the start up to the end offsets
// it finds, checking each record against the acknowledged ones and that
// offsets run without holes or repeats.
func rereadOnce(ctx context.Context, seeds []string, topic string, prod *producer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	from := map[int32]kgo.Offset{}
	for p := range want {
		from[p] = kgo.NewOffset().At(0)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.FetchMaxPartitionBytes(32<<10))
	if err != nil {
		return err
	}
	defer cons.Close()
	next := map[int32]int64{}
	acked := prod.byOffset()
	for len(want) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		fs := cons.PollFetches(pctx)
		stalled := pctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if stalled {
			return errors.New("re-read stalled")
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		for _, r := range fs.Records() {
			hw, ok := want[r.Partition]
			if !ok || r.Offset >= hw {
				continue
			}
			if r.Offset != next[r.Partition] {
				return fmt.Errorf("re-read: hole or duplicate: offset %d after %d in partition %d", r.Offset, next[r.Partition]-1, r.Partition)
			}
			next[r.Partition] = r.Offset + 1
			if v, ok := acked[r.Partition][r.Offset]; ok && v != string(r.Value) {
				return fmt.Errorf("re-read: offset %d holds %q, acknowledged %q", r.Offset, r.Value, v)
			}
			if r.Offset == hw-1 {
				delete(want, r.Partition)
			}
		}
	}
	return nil
}

// Retention by time: chunks whose newest record is older than retention.ms
// go; the log start offset moves to the first record kept, ListOffsets
// (earliest) says so, and a fetch below it is OFFSET_OUT_OF_RANGE.
func TestRetentionByTime(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "retention-time"
	createTopic(t, seeds, topic, 1, map[string]string{"retention.ms": "3600000"})
	ctx := testContext(t, time.Minute)
	prod := newProducer(t, seeds, topic)
	old := time.Now().Add(-2 * time.Hour)
	for i := range 4 { // four segments of old records
		if err := prod.produce(ctx, i*10, 10, 100, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.produce(ctx, 40, 10, 100, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: time.Hour})
	if st := tl.runOnce(t); st.Truncated != 1 {
		t.Fatalf("stats %+v, want one partition truncated", st)
	}
	checkStart(t, seeds, topic, 40)
	// Nothing more to do.
	if st := tl.runOnce(t); st.Truncated != 0 {
		t.Fatalf("second pass: %+v", st)
	}
	got := readAll(t, seeds, topic)
	if len(got[0]) != 10 || got[0][0].Offset != 40 {
		t.Fatalf("read %d records from %d after retention", len(got[0]), got[0][0].Offset)
	}
}

// checkStart waits for the agent to report start as the log start offset
// of partition 0, then checks that a fetch below it is out of range.
func checkStart(t *testing.T, seeds []string, topic string, start int64) {
	t.Helper()
	ctx := testContext(t, time.Minute)
	adm := kadm.NewClient(newClient(t, seeds))
	waitFor(t, 10*time.Second, "the agent to see the new log start", func() bool {
		so, err := adm.ListStartOffsets(ctx, topic)
		return err == nil && so[topic][0].Offset == start
	})
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsgFetch(topic, topics[topic].ID, start-1)
	resp, err := req.RequestWith(ctx, newClient(t, seeds))
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at %d below the log start %d: error %d, want OFFSET_OUT_OF_RANGE", start-1, start, code)
	}
}

// Retention by size: the oldest chunks go as long as what stays is at
// least retention.bytes.
func TestRetentionByBytes(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "retention-bytes"
	createTopic(t, seeds, topic, 1, map[string]string{"retention.bytes": "20000"})
	ctx := testContext(t, time.Minute)
	prod := newProducer(t, seeds, topic)
	for i := range 10 { // ten chunks of about 10 KB
		if err := prod.produce(ctx, i*10, 10, 1000, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	tl := newTool(t, c.Bucket, compaction.Options{MergeWindow: time.Hour})
	if st := tl.runOnce(t); st.Truncated != 1 {
		t.Fatalf("stats %+v, want one partition truncated", st)
	}
	var kept int64
	var start int64
	var chunks []journal.Chunk
	tl.log.View(func(s *journal.State) {
		p := s.Partition(topic, 0)
		kept, start, chunks = p.Bytes(), p.StartOffset, p.Chunks
	})
	if kept < 20000 || kept-chunks[0].RawLen >= 20000 {
		t.Fatalf("kept %d bytes in %d chunks; want the fewest chunks holding at least 20000", kept, len(chunks))
	}
	if start != chunks[0].BaseOffset || start == 0 {
		t.Fatalf("log start %d, first chunk at %d", start, chunks[0].BaseOffset)
	}
	checkStart(t, seeds, topic, start)
}

// A segment whose commit the compactor never made (it died between the
// PUT and the journal) is deleted once it is older than OrphanAge; a young
// one is left alone, since its commit may be in flight.
func TestOrphansCollected(t *testing.T) {
	c := startCluster(t)
	ctx := testContext(t, time.Minute)
	now := time.Now()
	tl := newTool(t, c.Bucket, compaction.Options{OrphanAge: time.Hour, Grace: time.Minute,
		Now: func() time.Time { return now }})
	young := segment.Key(segment.NewID())
	put(t, c.Bucket, young)
	tl.runOnce(t) // nothing old yet
	now = now.Add(2 * time.Hour)
	tl2 := newTool(t, c.Bucket, compaction.Options{OrphanAge: time.Hour, Grace: time.Minute,
		Now: func() time.Time { return now }})
	if st := tl2.runOnce(t); st.Marked != 1 || st.Deleted != 0 {
		t.Fatalf("first pass two hours later: %+v; want the orphan marked", st)
	}
	now = now.Add(2 * time.Minute)
	if st := tl2.runOnce(t); st.Deleted != 1 {
		t.Fatalf("after the grace period: %+v; want the orphan deleted", st)
	}
	if _, err := c.Bucket.Head(ctx, young); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("orphan still there: %v", err)
	}
}

func put(t *testing.T, b objstore.Bucket, key string) {
	t.Helper()
	if _, err := b.Put(testContext(t, 10*time.Second), key, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// kmsgFetch is a fetch of partition 0 of topic at offset.
func kmsgFetch(topic string, id [16]byte, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxWaitMillis = 100
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = 0
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// Small segments travel inside their journal entries (the agent's default
// for segments up to InlineSegmentBytes). Merging moves their chunks into
// merged objects like any others, but the entries stay: replay needs their
// commands, and the journal's housekeeping removes them only once a
// snapshot covers them. An agent started afterwards replays the journal and
// reads every record from the merged objects.
func TestMergeInlineSegments(t *testing.T) {
	c := startCluster(t)
	seeds := c.Seeds()
	const topic = "merge-inline"
	createTopic(t, seeds, topic, 1, nil)
	ctx := testContext(t, time.Minute)
	prod := newProducer(t, seeds, topic)
	for i := range 6 { // six flushes, six entries holding a segment each
		if err := prod.produce(ctx, i*20, 20, 200, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	inEntries := func() (n int) {
		c.Agents[0].Journal().View(func(s *journal.State) {
			for _, ch := range s.Partition(topic, 0).Chunks {
				if journal.IsEntryKey(ch.Object) {
					n++
				}
			}
		})
		return n
	}
	if n := inEntries(); n < 2 {
		t.Fatalf("%d chunks inside journal entries; the agent did not write its small segments inline", n)
	}
	// One window holds all six chunks, and it has passed.
	var clk skewClock
	type merged struct {
		chunk journal.Chunk
		data  []byte
	}
	var merges []merged
	tl := newTool(t, c.Bucket, compaction.Options{MergeTarget: 1 << 20, MergeWindow: 3 * time.Second, Grace: time.Millisecond, Now: clk.Now,
		Merged: func(_ []journal.Chunk, ch journal.Chunk, data []byte) { merges = append(merges, merged{ch, data}) }})
	clk.Advance(3 * time.Second)
	if st := tl.runOnce(t); st.Merged == 0 {
		t.Fatalf("stats %+v: nothing merged", st)
	}
	// What the compactor hands the agent's cache is what a fetch reads back.
	if len(merges) == 0 {
		t.Fatal("Merged was not called")
	}
	for _, m := range merges {
		read, err := compaction.ReadChunk(ctx, c.Bucket, m.chunk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(read, m.data) {
			t.Errorf("merged chunk %s: the bytes given to Merged differ from the bytes read back", m.chunk.Object)
		}
	}
	waitFor(t, 10*time.Second, "the agent to apply the merge", func() bool { return inEntries() == 0 })
	tl.runOnce(t) // collects garbage: the entries must survive it

	fresh, err := c.AddAgent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, []string{fresh.Addr()}, topic)
	if len(got[0]) != 120 {
		t.Fatalf("a new agent reads %d records, want the 120 produced", len(got[0]))
	}
	for i, r := range got[0] {
		if r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, r.Offset)
		}
	}
}
