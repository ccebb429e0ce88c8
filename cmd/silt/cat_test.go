package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// catTestRecord is record i of the cat tests: null and empty keys and
// values, a value that is not UTF-8, headers with a null value.
func catTestRecord(topic string, i int) *kgo.Record {
	r := &kgo.Record{
		Topic:     topic,
		Partition: int32(i % 3),
		Key:       []byte(fmt.Sprintf("key-%d", i%50)),
		Value:     []byte(fmt.Sprintf("value %d %s", i, strings.Repeat("x", i%40))),
		Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}},
		Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)*1000),
	}
	switch i % 10 {
	case 3:
		r.Key = nil
	case 5:
		r.Value = nil
	case 7:
		r.Value = []byte{0xff, 0xfe, 0, 1}
	case 8:
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "null"})
	}
	return r
}

// consumeAll reads every record of topic with a kgo consumer.
func consumeAll(t *testing.T, seeds []string, topic string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("consume: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// decodeCat parses `silt cat` JSON lines back into records.
func decodeCat(t *testing.T, out []byte) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var cr catRecord
		if err := json.Unmarshal(sc.Bytes(), &cr); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		field := func(s *string, b64 string) []byte {
			if s != nil {
				return []byte(*s)
			}
			if b64 != "" {
				b, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			return nil
		}
		r := &kgo.Record{Topic: cr.Topic, Partition: cr.Partition, Offset: cr.Offset, Timestamp: time.UnixMilli(cr.Timestamp),
			Key: field(cr.Key, cr.KeyBase64), Value: field(cr.Value, cr.ValueBase64)}
		for _, h := range cr.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: field(h.Value, h.ValueBase64)})
		}
		recs = append(recs, r)
	}
	return recs
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }

func sameRecord(a, b *kgo.Record) string {
	switch {
	case a.Topic != b.Topic || a.Partition != b.Partition || a.Offset != b.Offset:
		return fmt.Sprintf("at %s/%d@%d, want %s/%d@%d", a.Topic, a.Partition, a.Offset, b.Topic, b.Partition, b.Offset)
	case a.Timestamp.UnixMilli() != b.Timestamp.UnixMilli():
		return fmt.Sprintf("timestamp %d, want %d", a.Timestamp.UnixMilli(), b.Timestamp.UnixMilli())
	case !sameBytes(a.Key, b.Key) || !sameBytes(a.Value, b.Value):
		return fmt.Sprintf("key/value %q/%q, want %q/%q", a.Key, a.Value, b.Key, b.Value)
	case len(a.Headers) != len(b.Headers):
		return fmt.Sprintf("%d headers, want %d", len(a.Headers), len(b.Headers))
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !sameBytes(a.Headers[i].Value, b.Headers[i].Value) {
			return fmt.Sprintf("header %d differs", i)
		}
	}
	return ""
}

// byPartition orders records as silt cat prints them: partition, offset.
func byPartition(recs []*kgo.Record) []*kgo.Record {
	parts := map[int32][]*kgo.Record{}
	maxP := int32(0)
	for _, r := range recs {
		parts[r.Partition] = append(parts[r.Partition], r)
		maxP = max(maxP, r.Partition)
	}
	var out []*kgo.Record
	for p := int32(0); p <= maxP; p++ {
		out = append(out, parts[p]...) // kgo returns one partition's records in order
	}
	return out
}

// silt cat prints exactly what a Kafka consumer reads, including after
// DeleteRecords moved a log start offset; --from, --since, --to and --format
// raw select and print as documented.
func TestCatEqualsConsumer(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, n = "cat-orders", 600
	adm := kadm.NewClient(mustClient(t, seeds))
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod := mustClient(t, seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	for batch := 0; batch < 6; batch++ { // several segments per partition
		var recs []*kgo.Record
		for i := batch * n / 6; i < (batch+1)*n/6; i++ {
			recs = append(recs, catTestRecord(topic, i))
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 1 loses its first 10 records.
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {1: {Topic: topic, Partition: 1, At: 10}}}); err != nil {
		t.Fatal(err)
	}
	want := byPartition(consumeAll(t, seeds, topic, n-10))
	log := slog.New(slog.DiscardHandler)

	var out bytes.Buffer
	if err := catTopic(ctx, c.Bucket, log, catOptions{topic: topic, partition: -1, format: "json"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	got := decodeCat(t, out.Bytes())
	if len(got) != len(want) {
		t.Fatalf("cat printed %d records, the consumer read %d", len(got), len(want))
	}
	for i := range got {
		if d := sameRecord(got[i], want[i]); d != "" {
			t.Fatalf("record %d: %s", i, d)
		}
	}

	// Partition 2 from offset 50 to 60.
	out.Reset()
	if err := catTopic(ctx, c.Bucket, log, catOptions{topic: topic, partition: 2, from: 50, toOffset: 60, format: "json"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if got := decodeCat(t, out.Bytes()); len(got) != 10 || got[0].Offset != 50 || got[9].Offset != 59 || got[0].Partition != 2 {
		t.Fatalf("--partition 2 --from 50 --to 60: %d records, first %+v", len(got), got[0])
	}

	// Partition 0 by time: record i has timestamp base+i s and is at
	// offset i/3 of partition i%3.
	out.Reset()
	since := time.UnixMilli(1_700_000_000_000 + 300*1000)
	to := time.UnixMilli(1_700_000_000_000 + 330*1000)
	if err := catTopic(ctx, c.Bucket, log, catOptions{topic: topic, partition: 0, since: since, toTime: to, format: "json"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if got := decodeCat(t, out.Bytes()); len(got) != 10 || got[0].Offset != 100 || got[9].Offset != 109 {
		t.Fatalf("--since/--to by time: %d records, first %+v", len(got), got)
	}

	out.Reset()
	if err := catTopic(ctx, c.Bucket, log, catOptions{topic: topic, partition: 0, toOffset: 3, format: "raw"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	wantRaw := ""
	for _, r := range want[:3] {
		wantRaw += string(r.Value) + "\n"
	}
	if out.String() != wantRaw {
		t.Fatalf("raw: %q, want %q", out.String(), wantRaw)
	}

	if err := catTopic(ctx, c.Bucket, log, catOptions{topic: "missing", partition: -1, format: "json"}, &out, nil); err == nil {
		t.Fatal("cat of a missing topic succeeded")
	}
}

func mustClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// silt cat prints committed records only, as a read_committed consumer
// reads them: not an aborted transaction's, not an open one's (which also
// holds back what follows it); --read-uncommitted prints them all.
func TestCatHonoursTransactions(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const topic = "cat-txn"
	adm := kadm.NewClient(mustClient(t, seeds))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	p := mustClient(t, seeds, kgo.TransactionalID("cat-txn"), kgo.DefaultProduceTopic(topic))
	txn := func(values []string, commit *bool) {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit != nil {
			if err := p.EndTransaction(ctx, kgo.TransactionEndTry(*commit)); err != nil {
				t.Fatal(err)
			}
		}
	}
	yes, no := true, false
	txn([]string{"c1", "c2"}, &yes)
	txn([]string{"a1"}, &no)
	txn([]string{"c3"}, &yes)
	txn([]string{"open1"}, nil)
	plain := mustClient(t, seeds, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after-open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		uncommitted bool
		want        string
	}{
		{false, "c1\nc2\nc3\n"},
		{true, "c1\nc2\na1\nc3\nopen1\nafter-open\n"},
	} {
		var out bytes.Buffer
		if err := catTopic(ctx, c.Bucket, log, catOptions{topic: topic, partition: -1, format: "raw", uncommitted: tc.uncommitted}, &out, nil); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("uncommitted=%v: printed %q, want %q", tc.uncommitted, out.String(), tc.want)
		}
	}
}
