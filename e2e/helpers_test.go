package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testContext returns a context that ends after d or when the test ends.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a kgo client of the agents at seeds, closed when the
// test ends.
func newClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client of the agents at seeds.
func newAdmin(t testing.TB, seeds []string) *kadm.Client {
	return kadm.NewClient(newClient(t, seeds))
}

// createTopic creates a topic through the admin API and fails the test if
// that fails.
func createTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// baseTime is the timestamp of test record 0: a fixed instant, so that a
// timestamp the agent made up would not match.
var baseTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// testRecord returns test record i: everything in it (key, value, headers,
// timestamp) is derived from i, so a consumer can check a record it reads
// without keeping what was sent. Values vary in length and content so that
// compression has work to do and batches are not all alike; some keys and
// header values are null and some values empty, which the wire format
// tells apart from each other.
func testRecord(topic string, i int) *kgo.Record {
	r := &kgo.Record{
		Topic: topic,
		Key:   []byte(fmt.Sprintf("key-%07d", i)),
		Value: []byte(fmt.Sprintf("value-%07d|%s", i, strings.Repeat(string(rune('a'+i%26)), i%97))),
		Headers: []kgo.RecordHeader{
			{Key: "index", Value: []byte(strconv.Itoa(i))},
			{Key: "parity", Value: []byte(strconv.Itoa(i % 2))},
		},
		Timestamp: baseTime.Add(time.Duration(i) * time.Millisecond),
	}
	if i%13 == 12 {
		r.Key = nil
	}
	if i%11 == 10 {
		r.Value = []byte{}
	}
	if i%7 == 6 {
		r.Headers[1].Value = nil
	}
	return r
}

// recordIndex returns the index of a test record from its first header.
func recordIndex(r *kgo.Record) (int, bool) {
	if len(r.Headers) == 0 || r.Headers[0].Key != "index" {
		return 0, false
	}
	i, err := strconv.Atoi(string(r.Headers[0].Value))
	return i, err == nil
}

// sameBytes reports whether a and b are equal and both null or both not.
func sameBytes(a, b []byte) bool {
	return string(a) == string(b) && (a == nil) == (b == nil)
}

// checkRecord reports how r differs from test record i, or "".
func checkRecord(r *kgo.Record, i int) string {
	want := testRecord(r.Topic, i)
	switch {
	case !sameBytes(r.Key, want.Key):
		return fmt.Sprintf("key %q (null: %v), want %q (null: %v)", r.Key, r.Key == nil, want.Key, want.Key == nil)
	case string(r.Value) != string(want.Value):
		return fmt.Sprintf("value %q, want %q", r.Value, want.Value)
	case len(r.Headers) != len(want.Headers):
		return fmt.Sprintf("%d headers, want %d", len(r.Headers), len(want.Headers))
	case r.Timestamp.UnixMilli() != want.Timestamp.UnixMilli():
		return fmt.Sprintf("timestamp %v, want %v", r.Timestamp.UTC(), want.Timestamp.UTC())
	}
	for j, h := range r.Headers {
		if h.Key != want.Headers[j].Key || !sameBytes(h.Value, want.Headers[j].Value) {
			return fmt.Sprintf("header %d %s=%q (null: %v), want %s=%q (null: %v)", j, h.Key, h.Value, h.Value == nil,
				want.Headers[j].Key, want.Headers[j].Value, want.Headers[j].Value == nil)
		}
	}
	return ""
}

// acked is a record whose produce was acknowledged: where the agent said it
// put it.
type acked struct {
	index  int
	offset int64
}

// ackLog collects acknowledgements from producer promises, per partition in
// the order the promises ran (kgo runs one partition's promises in order).
type ackLog struct {
	mu     sync.Mutex
	parts  map[int32][]acked
	n      int
	failed int
	err    error // the first produce error
}

func newAckLog() *ackLog { return &ackLog{parts: map[int32][]acked{}} }

// promise returns the promise for test record i.
func (l *ackLog) promise(i int) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil {
			l.failed++
			if l.err == nil {
				l.err = fmt.Errorf("record %d: %w", i, err)
			}
			return
		}
		l.parts[r.Partition] = append(l.parts[r.Partition], acked{index: i, offset: r.Offset})
		l.n++
	}
}

// count returns how many records were acknowledged and how many failed.
func (l *ackLog) count() (ok, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.failed
}

// produceRecords produces test records first..first+n-1 to topic, record i
// to partition i%partitions (with kgo.ManualPartitioner), waits for every
// promise and fails the test if any produce failed.
func produceRecords(t testing.TB, cl *kgo.Client, topic string, partitions int32, first, n int) *ackLog {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	acks := newAckLog()
	for i := first; i < first+n; i++ {
		r := testRecord(topic, i)
		r.Partition = int32(i) % partitions
		cl.Produce(ctx, r, acks.promise(i))
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if ok, failed := acks.count(); failed > 0 || ok != n {
		t.Fatalf("%d of %d records acknowledged, %d failed; first error: %v", ok, n, failed, acks.err)
	}
	return acks
}

// producerOpts are the options of a producer of test records: records go
// to the partition set on them.
func producerOpts(extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, extra...)
}

// readLog reads every partition of topic from its log start offset to its
// high watermark, as they are when readLog is called, and returns the
// records by partition in offset order. It fails the test if a partition
// cannot be read to its end.
func readLog(t testing.TB, seeds []string, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	adm := newAdmin(t, seeds)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatalf("list start offsets of %s: %v", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{} // partition → high watermark
	from := map[int32]kgo.Offset{}
	remaining := 0
	log := map[int32][]*kgo.Record{}
	ends.Each(func(o kadm.ListedOffset) {
		start := starts[topic][o.Partition].Offset
		log[o.Partition] = nil
		if o.Offset > start {
			want[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(start)
			remaining += int(o.Offset - start)
		}
	})
	if remaining == 0 {
		return log
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	// A consumer retries errors it deems retriable (a chunk the agent
	// cannot read is KAFKA_STORAGE_ERROR) without reporting them, so a
	// read that stops progressing fails here rather than at the deadline.
	const stall = 15 * time.Second
	for len(want) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, stall)
		fs := cl.PollFetches(pollCtx)
		stalled := pollCtx.Err() != nil
		cancel()
		if stalled {
			t.Fatalf("read %s: no record for %v; still to read (partition: high watermark): %v", topic, stall, want)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("read %s[%d]: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			hw, reading := want[r.Partition]
			if !reading || r.Offset >= hw {
				return // produced after readLog began
			}
			log[r.Partition] = append(log[r.Partition], r)
			if r.Offset == hw-1 {
				delete(want, r.Partition)
			}
		})
	}
	return log
}

// checkLogMatchesAcks checks that the log holds exactly the acknowledged
// records: per partition, the same records at the offsets the producer was
// told, in the same order, each once, and nothing else.
func checkLogMatchesAcks(t testing.TB, log map[int32][]*kgo.Record, acks *ackLog) {
	t.Helper()
	acks.mu.Lock()
	defer acks.mu.Unlock()
	for p, want := range acks.parts {
		got := log[p]
		if len(got) != len(want) {
			t.Errorf("partition %d: %d records in the log, %d acknowledged", p, len(got), len(want))
		}
		for j := range min(len(got), len(want)) {
			r, w := got[j], want[j]
			if r.Offset != w.offset {
				t.Errorf("partition %d: record %d of the log is at offset %d; record %d was acknowledged at offset %d", p, j, r.Offset, w.index, w.offset)
				return
			}
			if diff := checkRecord(r, w.index); diff != "" {
				t.Errorf("partition %d offset %d: %s", p, r.Offset, diff)
				return
			}
		}
	}
	for p, got := range log {
		if _, ok := acks.parts[p]; !ok && len(got) > 0 {
			t.Errorf("partition %d: %d records in the log, none acknowledged", p, len(got))
		}
	}
}
