package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/recordbatch"
)

// storedBatches fetches partition 0 of topic from the start and returns its
// record batches as the agent serves them.
func storedBatches(ctx context.Context, t *testing.T, a agentUnderTest, topic string) [][]byte {
	t.Helper()
	td, err := a.adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 100, 16<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, td[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 16 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s: error %d", topic, p.ErrorCode)
	}
	var out [][]byte
	for b, err := range recordbatch.Iterate(p.RecordBatches) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes)
	}
	return out
}

// producer returns a client for topic that sends each record in its own
// request, with the given codec.
func producer(t *testing.T, a agentUnderTest, codec kgo.CompressionCodec) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ProducerBatchCompression(codec),
		kgo.RecordRetries(1), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A compacted topic refuses records without a key, as Kafka does:
// INVALID_RECORD, the keyless records named in record_errors, nothing of
// the batch appended.
func TestCompactedTopicRefusesKeylessRecords(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "keyed"); err != nil {
		t.Fatal(err)
	}
	cl := producer(t, a, kgo.NoCompression())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "keyed", Key: []byte("k"), Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatalf("keyed record: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "keyed", Value: []byte("no key")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record: %v, want INVALID_RECORD", err)
	}

	// record_errors name each keyless record of the batch.
	batch, err := recordbatch.Encode(recordbatch.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []recordbatch.Record{
		{Key: []byte("a"), Value: []byte("1")}, {Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")}, {Value: []byte("4")},
	}, recordbatch.CodecLZ4)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "keyed"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != kerr.InvalidRecord.Code || len(sp.ErrorRecords) != 2 || sp.ErrorRecords[0].RelativeOffset != 1 || sp.ErrorRecords[1].RelativeOffset != 3 {
		t.Fatalf("error %d, record errors %+v; want INVALID_RECORD naming records 1 and 3", sp.ErrorCode, sp.ErrorRecords)
	}
	if got := storedBatches(ctx, t, a, "keyed"); len(got) != 1 {
		t.Errorf("%d batches stored, want only the keyed record's", len(got))
	}
}

// message.timestamp.type=LogAppendTime: consumers see the agent's append
// time, marked as such, whatever the producer wrote; the produce answer
// carries it.
func TestLogAppendTime(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")}, "appended"); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	before := time.Now().Add(-time.Second)
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression()} {
		r := &kgo.Record{Topic: "appended", Value: []byte("v"), Timestamp: old}
		if err := producer(t, a, codec).ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().Add(time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ConsumeTopics("appended"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < 2 && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	for _, r := range got {
		if r.Timestamp.Before(before) || r.Timestamp.After(after) || r.Attrs.TimestampType() != 1 {
			t.Errorf("record at %d: timestamp %v type %d; want the append time (between %v and %v), type 1",
				r.Offset, r.Timestamp, r.Attrs.TimestampType(), before, after)
		}
	}
	if len(got) != 2 {
		t.Fatalf("consumed %d records, want 2", len(got))
	}
}

// message.timestamp.before.max.ms and after.max.ms bound CreateTime
// timestamps around the broker's clock: INVALID_TIMESTAMP outside. Kafka's
// default after.max.ms is one hour.
func TestTimestampBounds(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, nil, "default-bounds"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.before.max.ms": kadm.StringPtr("60000")}, "recent-only"); err != nil {
		t.Fatal(err)
	}
	cl := producer(t, a, kgo.NoCompression())
	now := time.Now()
	for _, c := range []struct {
		topic string
		ts    time.Time
		want  error
	}{
		{"default-bounds", now, nil},
		{"default-bounds", now.Add(-365 * 24 * time.Hour), nil},
		{"default-bounds", now.Add(2 * time.Hour), kerr.InvalidTimestamp},
		{"recent-only", now.Add(-time.Hour), kerr.InvalidTimestamp},
		{"recent-only", now, nil},
	} {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: c.topic, Value: []byte("v"), Timestamp: c.ts}).FirstErr()
		if !errors.Is(err, c.want) && (err != nil || c.want != nil) {
			t.Errorf("%s at %v: %v, want %v", c.topic, c.ts.Sub(now).Round(time.Second), err, c.want)
		}
	}
}

// compression.type other than producer: the agent recompresses batches in
// another codec, as Kafka does, and consumers read the same records.
func TestBrokerSideCompression(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	// Repetitive, so that kgo compresses it (it sends a batch its codec
	// does not shrink uncompressed).
	value := strings.Repeat("value compressed as the topic says; ", 40)
	for _, c := range []struct {
		topicCodec string
		produced   kgo.CompressionCodec
		want       recordbatch.Codec
	}{
		{"zstd", kgo.NoCompression(), recordbatch.CodecZstd},
		{"uncompressed", kgo.GzipCompression(), recordbatch.CodecNone},
		{"gzip", kgo.SnappyCompression(), recordbatch.CodecGzip},
		{"lz4", kgo.Lz4Compression(), recordbatch.CodecLZ4},
		{"producer", kgo.SnappyCompression(), recordbatch.CodecSnappy},
	} {
		topic := "codec-" + c.topicCodec
		if _, err := a.adm.CreateTopic(ctx, 1, 1, map[string]*string{"compression.type": kadm.StringPtr(c.topicCodec)}, topic); err != nil {
			t.Fatal(err)
		}
		cl := producer(t, a, c.produced)
		for i := range 3 {
			r := &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte(value)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("%s: %v", topic, err)
			}
		}
		for _, b := range storedBatches(ctx, t, a, topic) {
			if err := recordbatch.CheckCRC(b); err != nil {
				t.Fatalf("%s: stored batch invalid: %v", topic, err)
			}
			h, _ := recordbatch.ParseHeader(b)
			recs, err := recordbatch.Records(b, 1<<20)
			if h.Codec() != c.want || err != nil || len(recs) != 1 || string(recs[0].Value) != value {
				t.Errorf("%s: batch codec %v (want %v), records %v, %v", topic, h.Codec(), c.want, len(recs), err)
			}
		}
	}
}
