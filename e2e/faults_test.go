package e2e

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/objstorefault"
)

// faultBucket returns a file bucket in a temporary directory wrapped for
// fault injection.
func faultBucket(t testing.TB) *objstorefault.Bucket {
	t.Helper()
	b, err := objstore.Open(context.Background(), t.TempDir(), objstore.Config{})
	if err != nil {
		t.Fatalf("open file bucket: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return objstorefault.Wrap(b)
}

// TestBucketDown takes the object store away under a running agent while a
// producer (idempotent, acks=all, retrying forever) keeps producing, and
// gives it back:
//
//   - while the store is down no produce is acknowledged: a raw acks=all
//     produce is answered with a retriable error code, a kgo producer with
//     a short delivery timeout retries until it fails, and the
//     running producer gets no acknowledgement;
//   - the agent keeps answering requests that need no store (ApiVersions,
//     Metadata) at once;
//   - once the store is back, the same producer's records are acknowledged
//     again, without restarting the agent or the client;
//   - afterwards the log holds every acknowledged record — before, during
//     and after the outage — exactly once, at its offset, in order.
//
// The outage outlasts the agent's commit timeout (2s here), so segments cut
// during it fail and their batches are produced again by the client.
func TestBucketDown(t *testing.T) {
	t.Parallel()
	fault := faultBucket(t)
	c := localstacktest.StartT(t, localstack.Options{
		Bucket:    fault,
		Configure: func(_ int, cfg *agent.Config) { cfg.CommitTimeout = 2 * time.Second },
	})
	seeds := c.Seeds()
	adm := newAdmin(t, seeds)
	const (
		topic, probeTopic = "outage", "outage-probe"
		partitions        = 4
		total             = 6000
		downAfter         = 1500 // acknowledgements before the outage
	)
	createTopic(t, adm, topic, partitions, nil)
	createTopic(t, adm, probeTopic, 1, nil)

	cl := newClient(t, seeds, producerOpts(kgo.MaxBufferedRecords(200), kgo.ProducerBatchMaxBytes(16<<10))...)
	ctx := testContext(t, 2*time.Minute)
	acks := newAckLog()
	var producing sync.WaitGroup
	producing.Go(func() {
		for i := range total {
			r := testRecord(topic, i)
			r.Partition = int32(i) % partitions
			cl.Produce(ctx, r, acks.promise(i))
		}
	})
	waitFor(t, time.Minute, func() bool { n, _ := acks.count(); return n >= downAfter })

	fault.SetDown(true)
	// Answers the agent decided before the outage may still be on their
	// way; after this pause, no acknowledgement may arrive.
	time.Sleep(500 * time.Millisecond)
	ackedAtDown, _ := acks.count()

	raw := dialRaw(t, seeds[0])
	resp := raw.roundTrip(produceRequest(probeTopic, 0, encodeBatch(t, 10, 10), time.Second))
	if err := kerr.ErrorForCode(partitionCode(t, resp)); err == nil || !kerr.IsRetriable(err) {
		t.Errorf("raw acks=all produce while the store is down: %v; want a retriable error", err)
	}

	for _, req := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), metadataRequest(probeTopic)} {
		start := time.Now()
		raw.roundTrip(req)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v while the store was down; want an answer at once", kmsg.NameForKey(req.Key()), d)
		}
	}

	// An idempotent producer never gives up on a batch that may have been
	// written (REQUEST_TIMED_OUT leaves that open), so the probe that is
	// to see the error does without idempotence.
	probe := newClient(t, seeds, kgo.DisableIdempotentWrite(),
		kgo.RecordDeliveryTimeout(2*time.Second), kgo.ProduceRequestTimeout(time.Second))
	probeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := probe.ProduceSync(probeCtx, &kgo.Record{Topic: probeTopic, Value: []byte("during the outage")}).FirstErr()
	if !errors.Is(err, kgo.ErrRecordTimeout) {
		t.Errorf("kgo produce while the store is down: %v; want %v (kgo retried until its delivery timeout)", err, kgo.ErrRecordTimeout)
	}

	if n, _ := acks.count(); n != ackedAtDown {
		t.Errorf("%d records acknowledged while the store was down", n-ackedAtDown)
	}
	fault.SetDown(false)

	producing.Wait()
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush after the outage: %v", err)
	}
	if n, failed := acks.count(); n != total || failed != 0 {
		t.Errorf("%d of %d records acknowledged and %d failed; want all acknowledged after the outage (first error: %v)", n, total, failed, acks.err)
	}
	log := readLog(t, seeds, topic)
	checkLogMatchesAcks(t, log, acks)
	checkProducedOnceInOrder(t, log, partitions)
}

// metadataRequest asks for one topic's metadata without creating it.
func metadataRequest(topic string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	return req
}

// putCounter counts the puts of keys under a prefix, to show that injected
// faults were met.
type putCounter struct {
	objstore.Bucket
	prefix string
	n      atomic.Int64
}

func (c *putCounter) count(key string) {
	if strings.HasPrefix(key, c.prefix) {
		c.n.Add(1)
	}
}

// Put implements objstore.Bucket.
func (c *putCounter) Put(ctx context.Context, key string, data []byte) (string, error) {
	c.count(key)
	return c.Bucket.Put(ctx, key, data)
}

// PutIfAbsent implements objstore.Bucket.
func (c *putCounter) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	c.count(key)
	return c.Bucket.PutIfAbsent(ctx, key, data)
}

// TestLostResponses loses the responses of puts that succeeded — journal
// entries and segment uploads — while a producer writes, as a timeout or a
// reset after the store acted would. The producer has idempotence off, so
// it cannot be what removes duplicates: every record must be acknowledged
// once and be in the log once, at the offset acknowledged, in order. For
// the journal — whose entries carry the small segments inline — this is
// the read-back of an ambiguous put-if-absent (the entry's nonce says it is
// ours); for segments of their own, re-uploading the same bytes under the
// same key.
func TestLostResponses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		prefix string
		inline int // Config.InlineSegmentBytes
	}{
		// Segments inside their journal entries (the default for small
		// ones), and segments of their own.
		{"journal", "journal/", agent.DefaultConfig().InlineSegmentBytes},
		{"segments", "segments/", 0},
	}
	const (
		partitions = 4
		records    = 3000
		faults     = 5
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fault := faultBucket(t)
			puts := &putCounter{Bucket: fault, prefix: tc.prefix}
			c := localstacktest.StartT(t, localstack.Options{Bucket: puts,
				Configure: func(_ int, cfg *agent.Config) { cfg.InlineSegmentBytes = tc.inline }})
			seeds := c.Seeds()
			topic := "lost-" + tc.name
			createTopic(t, newAdmin(t, seeds), topic, partitions, nil)

			before := puts.n.Load()
			fault.FailPuts(tc.prefix, faults, objstorefault.LoseResponse)
			cl := newClient(t, seeds, producerOpts(kgo.DisableIdempotentWrite(), kgo.ProducerBatchMaxBytes(8<<10))...)
			acks := produceRecords(t, cl, topic, partitions, 0, records)
			if n := puts.n.Load() - before; n <= faults {
				t.Fatalf("only %d puts under %s while producing; the %d faults were not all met", n, tc.prefix, faults)
			}
			log := readLog(t, seeds, topic)
			checkLogMatchesAcks(t, log, acks)
			checkProducedOnceInOrder(t, log, partitions)
		})
	}
}

// TestSlowBucket makes every bucket request, for a few seconds, slower than
// the producer's request timeout, so the agent answers REQUEST_TIMED_OUT
// for batches it goes on to commit, and the idempotent producer sends them
// again. Each
// retry of a committed batch must be recognised as a duplicate: answered
// with the offset of the original, left out of the log, whether it is read
// from the writing agent's cache or from the bucket by another agent.
func TestSlowBucket(t *testing.T) {
	t.Parallel()
	fault := faultBucket(t)
	c := localstacktest.StartT(t, localstack.Options{Bucket: fault})
	seeds := c.Seeds()
	const topic, partitions, records = "slow", 2, 1000
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)

	// Slow for a few seconds only: while every commit takes longer than
	// the producer waits, no attempt can succeed.
	fault.SetLatency(1200 * time.Millisecond)
	time.AfterFunc(4*time.Second, func() { fault.SetLatency(0) })
	cl := newClient(t, seeds, producerOpts(
		kgo.ProduceRequestTimeout(time.Second),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(8<<10),
	)...)
	acks := produceRecords(t, cl, topic, partitions, 0, records)

	// The journal holds every batch committed, duplicates included; the
	// log holds each once.
	sent, kept := 0, 0
	a := c.Agents[0]
	for seq := uint64(1); seq <= a.Journal().Seq(); seq++ {
		for _, cmd := range readEntry(t, fault, seq).Commands {
			if cmd.CommitSegment == nil {
				continue
			}
			for _, ch := range cmd.CommitSegment.Chunks {
				for _, b := range ch.Batches {
					if ch.Topic == topic {
						sent += int(b.Records)
					}
				}
			}
		}
	}
	a.Journal().View(func(s *journal.State) {
		for _, p := range s.Topic(topic).Partitions {
			kept += int(p.NextOffset)
		}
	})
	if kept != records || sent <= kept {
		t.Fatalf("%d records committed, %d kept; want %d kept and more committed (the producer's retries)", sent, kept, records)
	}
	t.Logf("%d records committed, of which %d retries recognised as duplicates", sent, sent-kept)

	checkLogMatchesAcks(t, readLog(t, seeds, topic), acks)
	ctx := testContext(t, time.Minute)
	cold, err := c.AddAgent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	log := readLog(t, []string{cold.Addr()}, topic)
	checkLogMatchesAcks(t, log, acks)
	checkProducedOnceInOrder(t, log, partitions)
}

// readEntry reads journal entry seq from the bucket.
func readEntry(t testing.TB, b objstore.Bucket, seq uint64) *journal.Entry {
	t.Helper()
	rc, err := b.Get(context.Background(), journal.EntryKey(seq))
	if err != nil {
		t.Fatalf("journal entry %d: %v", seq, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("journal entry %d: %v", seq, err)
	}
	e, err := journal.DecodeEntry(seq, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
