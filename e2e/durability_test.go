package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore"
)

// TestDurability stops the agent process in the middle of an idempotent
// acks=all produce — with SIGKILL, as a crash would, and with SIGTERM, as
// a deployment would — and starts a new agent process on the same bucket
// with an empty cache, a new node name and the old Kafka address, so that
// the producer carries on against it with its retries. Then:
//
//   - SIGTERM ends the agent with exit code 0;
//   - every record the producer saw acknowledged, before or after the
//     stop, is in the log exactly once, at the offset it was given, read
//     back through the new agent (the old agent's records from the bucket,
//     since the new one has never seen them);
//   - every record in the log was produced, each at most once, and each
//     partition holds its records in the order they were produced: a retry
//     of a batch whose acknowledgement was lost in the stop is recognised
//     as a duplicate from the producer state in the journal;
//   - the producer, retrying forever as kgo does by default, gets every
//     record acknowledged in the end.
func TestDurability(t *testing.T) {
	cases := []struct {
		name string
		stop func(*localstacktest.Process)
	}{
		{"sigkill", (*localstacktest.Process).Kill},
		{"sigterm", (*localstacktest.Process).Stop},
	}
	const (
		partitions = 4
		total      = 20_000
		stopAfter  = 4_000 // acknowledgements before the stop
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bucket := t.TempDir()
			first := localstacktest.StartProcess(t, localstacktest.ProcessOptions{Bucket: bucket, NodeName: "durable-" + tc.name + "-1"})
			topic := "durable"
			createTopic(t, newAdmin(t, []string{first.Addr()}), topic, partitions, nil)

			// Small batches and a bounded buffer keep requests in flight
			// all the time, so the stop lands in the middle of some.
			// Uncompressed batches are compressed by the agent, so the new
			// agent's reads decode what the old one encoded.
			cl := newClient(t, []string{first.Addr()}, producerOpts(
				kgo.ProducerBatchCompression(kgo.NoCompression()),
				kgo.ProducerLinger(0),
				kgo.MaxBufferedRecords(500),
				kgo.ProducerBatchMaxBytes(16<<10),
			)...)
			ctx := testContext(t, 3*time.Minute)
			acks := newAckLog()
			var producing sync.WaitGroup
			producing.Go(func() {
				for i := range total {
					r := testRecord(topic, i)
					r.Partition = int32(i) % partitions
					cl.Produce(ctx, r, acks.promise(i))
				}
			})

			waitFor(t, 60*time.Second, func() bool { n, _ := acks.count(); return n >= stopAfter })
			tc.stop(first)
			before, _ := acks.count()
			second := localstacktest.StartProcess(t, localstacktest.ProcessOptions{
				Bucket: bucket, NodeName: "durable-" + tc.name + "-2", Listen: first.Addr(),
			})

			producing.Wait()
			if err := cl.Flush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}
			ok, failed := acks.count()
			t.Logf("%d records acknowledged when the agent was stopped, %d in the end, %d failed", before, ok, failed)
			if ok != total || failed != 0 {
				t.Errorf("%d of %d records acknowledged and %d failed; want all acknowledged (first error: %v)", ok, total, failed, acks.err)
			}

			log := readLog(t, []string{second.Addr()}, topic)
			checkLogMatchesAcks(t, log, acks)
			checkProducedOnceInOrder(t, log, partitions)
		})
	}
}

// checkProducedOnceInOrder checks that every record in the log is a test
// record in its partition (i%partitions), that none appears twice, and
// that each partition's records are in the order produced.
func checkProducedOnceInOrder(t testing.TB, log map[int32][]*kgo.Record, partitions int32) {
	t.Helper()
	seen := map[int]int64{}
	for p, recs := range log {
		last := -1
		for _, r := range recs {
			i, ok := recordIndex(r)
			switch {
			case !ok:
				t.Errorf("partition %d offset %d: key %q is no test record", p, r.Offset, r.Key)
				continue
			case int32(i)%partitions != p:
				t.Errorf("partition %d offset %d: record %d belongs in partition %d", p, r.Offset, i, int32(i)%partitions)
			}
			if off, dup := seen[i]; dup {
				t.Errorf("record %d is in the log twice: at offsets %d and %d of partition %d", i, off, r.Offset, p)
			}
			seen[i] = r.Offset
			if i <= last {
				t.Errorf("partition %d offset %d: record %d after record %d", p, r.Offset, i, last)
			}
			last = i
			if diff := checkRecord(r, i); diff != "" {
				t.Errorf("partition %d offset %d: %s", p, r.Offset, diff)
			}
		}
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRestartFromSnapshot writes more journal entries than the journal
// keeps between snapshots (1000), one small record per entry, stops the
// agent and starts a new one on the same bucket: it replays the snapshot
// and the entries after it, serves every acknowledged record from the
// bucket (each in a chunk of its own, small enough that the agent stores
// it raw), and carries on where the log ended.
func TestRestartFromSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const topic, partitions, records = "replayed", 2, 1100
	first, err := localstack.Start(context.Background(), localstack.Options{
		Dir:       dir,
		Logger:    localstacktest.TestLogger(t),
		Configure: func(_ int, cfg *agent.Config) { cfg.FlushInterval = time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	seeds := first.Seeds()
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)
	cl := newClient(t, seeds, producerOpts(kgo.ProducerBatchCompression(kgo.NoCompression()))...)
	ctx := testContext(t, 2*time.Minute)
	acks := newAckLog()
	for i := range records {
		r := testRecord(topic, i)
		r.Partition = int32(i) % partitions
		res := cl.ProduceSync(ctx, r)[0]
		acks.promise(i)(res.Record, res.Err)
	}
	if ok, failed := acks.count(); ok != records {
		t.Fatalf("%d of %d records acknowledged, %d failed: %v", ok, records, failed, acks.err)
	}
	cl.Close()
	if err := first.Close(); err != nil {
		t.Fatalf("stop the first agent: %v", err)
	}

	bucket, err := objstore.Open(ctx, dir, objstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	snapshots := 0
	for _, err := range bucket.List(ctx, "snapshots/", "") {
		if err != nil {
			t.Fatal(err)
		}
		snapshots++
	}
	if snapshots == 0 {
		t.Fatalf("no snapshot in the bucket after %d entries", records)
	}

	second := localstacktest.StartT(t, localstack.Options{Dir: dir})
	seeds = second.Seeds()
	checkLogMatchesAcks(t, readLog(t, seeds, topic), acks)
	more := produceRecords(t, newClient(t, seeds, producerOpts()...), topic, partitions, records, 10)
	for p, as := range more.parts {
		if want := int64(records / partitions); as[0].offset != want {
			t.Errorf("partition %d: first record after the restart at offset %d, want %d", p, as[0].offset, want)
		}
	}
}
