package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// codecs are the record-batch compression codecs a Kafka producer may use.
var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

// roundTripTarget is where TestRoundTrip runs: start returns the seeds of
// an agent to produce to, and a function that starts another agent on the
// same bucket, with an empty cache, and returns its seeds.
type roundTripTarget struct {
	name    string
	start   func(t *testing.T) (seeds []string, fresh func(t *testing.T) []string)
	codecs  []string
	records int
}

// inProcess starts agents in this process with opts.
func inProcess(opts localstack.Options) func(t *testing.T) ([]string, func(t *testing.T) []string) {
	return func(t *testing.T) ([]string, func(t *testing.T) []string) {
		c := localstacktest.StartT(t, opts)
		return c.Seeds(), func(t *testing.T) []string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, err := c.AddAgent(ctx, len(c.Agents))
			if err != nil {
				t.Fatalf("add agent: %v", err)
			}
			return []string{a.Addr()}
		}
	}
}

// asProcesses starts `silt agent` processes on a file bucket.
func asProcesses(t *testing.T) ([]string, func(t *testing.T) []string) {
	bucket := t.TempDir()
	p := localstacktest.StartProcess(t, localstacktest.ProcessOptions{Bucket: bucket})
	return []string{p.Addr()}, func(t *testing.T) []string {
		return []string{localstacktest.StartProcess(t, localstacktest.ProcessOptions{Bucket: bucket}).Addr()}
	}
}

// TestRoundTrip produces records over 8 partitions with kgo (idempotent,
// acks=all) and consumes them back, through the agent that wrote them
// (from its cache) and through a new agent on the same bucket (from the
// bucket): every record the producer's promises acknowledged is in the log
// exactly once, at the partition and offset the promise reported, in the
// order produced, with its key, value, headers and timestamp intact, and
// nothing else is.
//
// The full codec matrix runs on one target only. The codec decides what the
// agent does with a batch — validate it, store an uncompressed one in a
// zstd chunk or a compressed one as it came — and that is the same code
// whatever carries the bytes afterwards. The bucket driver and the process
// boundary only ever see opaque segment bytes, so the other targets run
// the two storage paths (none: compressed by the agent; lz4 or zstd: stored
// as produced) with fewer records, which keeps the package quick under
// -race without leaving a combination of behaviours untested.
func TestRoundTrip(t *testing.T) {
	targets := []roundTripTarget{
		{"inprocess-file", inProcess(localstack.Options{}), []string{"none", "gzip", "snappy", "lz4", "zstd"}, 100_000},
		{"inprocess-s3", inProcess(localstack.Options{S3: true}), []string{"none", "lz4"}, 20_000},
		{"process-file", asProcesses, []string{"none", "zstd"}, 20_000},
	}
	const partitions = 8
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			seeds, fresh := tg.start(t)
			adm := newAdmin(t, seeds)
			var topics []string
			acks := map[string]*ackLog{}
			for _, c := range codecs {
				if !slices.Contains(tg.codecs, c.name) {
					continue
				}
				topic := "roundtrip-" + c.name
				topics = append(topics, topic)
				t.Run("produce-"+c.name, func(t *testing.T) {
					createTopic(t, adm, topic, partitions, nil)
					cl := newClient(t, seeds, producerOpts(kgo.ProducerBatchCompression(c.codec))...)
					acks[topic] = produceRecords(t, cl, topic, partitions, 0, tg.records)
					checkLogMatchesAcks(t, readLog(t, seeds, topic), acks[topic])
				})
			}
			if t.Failed() {
				return
			}
			// The new agent has read nothing yet: every chunk comes from
			// the bucket, decoded and patched by an agent that did not
			// write it.
			cold := fresh(t)
			for _, topic := range topics {
				t.Run("cold-read-"+topic, func(t *testing.T) {
					checkLogMatchesAcks(t, readLog(t, cold, topic), acks[topic])
				})
			}
		})
	}
}

// TestConcurrentProducers has six idempotent producers write to the same
// two partitions at once, in small batches, so that one segment chunk
// holds batches of several producers: every acknowledged record is at the
// offset it was given, each producer's records are in its order, and no
// record is lost or doubled.
func TestConcurrentProducers(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	const (
		topic      = "shared"
		partitions = 2
		producers  = 6
		each       = 3000
		stride     = 1_000_000 // producer p writes records p*stride…
	)
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)
	acks := make([]*ackLog, producers)
	var wg sync.WaitGroup
	for p := range producers {
		cl := newClient(t, seeds, producerOpts(kgo.ProducerBatchMaxBytes(4<<10))...)
		wg.Go(func() { acks[p] = produceRecords(t, cl, topic, partitions, p*stride, each) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	log := readLog(t, seeds, topic)
	seen := map[int]bool{}
	for part, recs := range log {
		last := map[int]int{} // producer → its last record in this partition
		for _, r := range recs {
			i, ok := recordIndex(r)
			if !ok {
				t.Fatalf("partition %d offset %d: not a test record", part, r.Offset)
			}
			if diff := checkRecord(r, i); diff != "" {
				t.Errorf("partition %d offset %d: %s", part, r.Offset, diff)
			}
			if l, ok := last[i/stride]; ok && i <= l {
				t.Errorf("partition %d offset %d: record %d after record %d of the same producer", part, r.Offset, i, l)
			}
			if seen[i] {
				t.Errorf("record %d is in the log twice", i)
			}
			last[i/stride], seen[i] = i, true
		}
	}
	if len(seen) != producers*each {
		t.Errorf("%d records in the log, %d produced", len(seen), producers*each)
	}
	for _, a := range acks {
		for part, as := range a.parts {
			for _, ack := range as {
				if ack.offset >= int64(len(log[part])) {
					t.Fatalf("record %d acknowledged at offset %d of partition %d, past its end", ack.index, ack.offset, part)
				}
				if i, _ := recordIndex(log[part][ack.offset]); i != ack.index {
					t.Fatalf("record %d acknowledged at offset %d of partition %d, which holds record %d", ack.index, ack.offset, part, i)
				}
			}
		}
	}
}

// TestAcksZero produces without acknowledgements (acks=0): the agent sends
// no response, and the records are stored all the same.
func TestAcksZero(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	const topic, partitions, records = "fire-and-forget", 2, 5000
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)
	cl := newClient(t, seeds, producerOpts(kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())...)
	produceRecords(t, cl, topic, partitions, 0, records) // promises run once sent
	// Nothing says when the last segment is committed; wait for the log.
	adm := newAdmin(t, seeds)
	ctx := testContext(t, 30*time.Second)
	waitFor(t, 30*time.Second, func() bool {
		ends, err := adm.ListEndOffsets(ctx, topic)
		total := int64(0)
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		return err == nil && total == records
	})
	log := readLog(t, seeds, topic)
	checkProducedOnceInOrder(t, log, partitions)
}

// TestLargeRecords produces records of 300 KiB and consumes them with a
// fetch limit of 100 KiB per partition: a batch larger than the limit is
// still returned when it is the first of the response, so the consumer
// makes progress, one batch per fetch, through every partition.
func TestLargeRecords(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	const topic, partitions, records = "large", 4, 40
	createTopic(t, newAdmin(t, seeds), topic, partitions, nil)
	cl := newClient(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := testContext(t, time.Minute)
	for i := range records {
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: make([]byte, 300<<10)}
		r.Value[0], r.Value[len(r.Value)-1] = byte(i), byte(i)
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
	consumer := newClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(100<<10), kgo.FetchMaxBytes(200<<10))
	got := map[byte]bool{}
	for len(got) < records {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d large records: %v", len(got), records, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 300<<10 || r.Value[0] != r.Value[len(r.Value)-1] || int32(r.Value[0])%partitions != r.Partition {
				t.Errorf("partition %d offset %d: damaged record", r.Partition, r.Offset)
			}
			got[r.Value[0]] = true
		})
	}
}
