package e2e

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// TestLongPoll specifies a fetch at the end of the log: it waits for new
// records up to MaxWaitMillis, and returns as soon as one is committed
// rather than when the wait is over.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	c := localstacktest.StartT(t, localstack.Options{})
	seeds := c.Seeds()
	const topic = "tail"
	createTopic(t, newAdmin(t, seeds), topic, 1, nil)
	producer := newClient(t, seeds, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	ctx := testContext(t, time.Minute)
	produce := func(value string) {
		t.Helper()
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	// A kgo consumer that has read everything has its next fetch waiting
	// at the end of the log (MaxWait 5s); a record produced 200ms later
	// reaches it long before the wait is over.
	t.Run("consumer at the log end", func(t *testing.T) {
		consumer := newClient(t, seeds, kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(5*time.Second))
		produce("warm-up")
		for got := false; !got; {
			consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = string(r.Value) == "warm-up" })
			if ctx.Err() != nil {
				t.Fatal("the consumer never read the warm-up record")
			}
		}
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		produce("tail")
		var got string
		for got == "" {
			consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = string(r.Value) })
			if ctx.Err() != nil {
				t.Fatal("the consumer never read the tail record")
			}
		}
		if d := time.Since(start); got != "tail" || d > 2*time.Second {
			t.Errorf("consumer read %q %v after it was produced; want \"tail\" well within its 5s wait", got, d)
		}
	})

	// The same with one fetch request, timed from its start.
	cases := []struct {
		name           string
		maxWait        time.Duration
		produceAfter   time.Duration // 0: nothing is produced
		wantRecords    bool
		atLeast, below time.Duration
	}{
		{"a record produced 200ms into a 5s wait", 5 * time.Second, 200 * time.Millisecond, true, 200 * time.Millisecond, 2 * time.Second},
		{"nothing produced during a 1s wait", time.Second, 0, false, time.Second, 3 * time.Second},
	}
	fetcher := newClient(t, seeds)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ends, err := newAdmin(t, seeds).ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			end, _ := ends.Lookup(topic, 0)
			listed, err := newAdmin(t, seeds).ListTopics(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			req := kmsg.NewPtrFetchRequest()
			req.MaxWaitMillis, req.MinBytes, req.MaxBytes = int32(tc.maxWait.Milliseconds()), 1, 1<<20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = topic, listed[topic].ID
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.FetchOffset, rp.PartitionMaxBytes = end.Offset, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)

			start := time.Now()
			if tc.produceAfter > 0 {
				time.AfterFunc(tc.produceAfter, func() { producer.Produce(ctx, &kgo.Record{Value: []byte("long-polled")}, nil) })
			}
			resp, err := req.RequestWith(ctx, fetcher)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("fetch response has %d topics", len(resp.Topics))
			}
			sp := resp.Topics[0].Partitions[0]
			if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if got := len(sp.RecordBatches) > 0; got != tc.wantRecords {
				t.Errorf("fetch returned records: %v, want %v", got, tc.wantRecords)
			}
			if elapsed < tc.atLeast || elapsed >= tc.below {
				t.Errorf("fetch answered after %v; want at least %v and below %v", elapsed, tc.atLeast, tc.below)
			}
		})
	}
}
