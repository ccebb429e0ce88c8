package agent

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

func produceRequest(t *testing.T, topic string, value string) *request {
	t.Helper()
	b, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, BaseSequence: -1},
		[]recordbatch.Record{{Value: []byte(value), Timestamp: 1}}, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	r := kmsg.NewPtrProduceRequest()
	r.Version, r.Acks, r.TimeoutMillis = 9, -1, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = b
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return &request{key: r.Key(), version: r.Version, body: r, received: time.Now()}
}

// A produce to a topic that does not exist yet returns from its handler
// without touching the journal: the topic is created in the reply's wait,
// on the connection's writer. A produce after it on the same connection,
// to a topic that exists, appends in its wait too, so the two keep their
// order.
func TestProduceCreatesTopicInTheWait(t *testing.T) {
	a := newTestAgent(t, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := a.createTopic(ctx, "known", 1, nil); code != 0 {
		t.Fatalf("create topic: %d", code)
	}
	c := &conn{a: a, ctx: ctx, cancel: cancel, log: a.log}
	seq := a.journal.Seq()

	first := handleProduce(c, produceRequest(t, "created-on-produce", "one"))
	second := handleProduce(c, produceRequest(t, "known", "two"))
	if got := a.journal.Seq(); got != seq {
		t.Fatalf("the handlers wrote journal entries %d..%d", seq+1, got)
	}
	a.journal.View(func(s *journal.State) {
		if s.Topic("created-on-produce") != nil {
			t.Error("the topic was created by the handler")
		}
	})
	if first.wait == nil || second.wait == nil || first.resp != nil || second.resp != nil {
		t.Fatalf("replies %+v and %+v: want both to wait", first, second)
	}
	if c.deferredProduces.Load() != 2 {
		t.Errorf("%d produces deferred, want 2", c.deferredProduces.Load())
	}

	for i, rep := range []reply{first, second} {
		resp := rep.wait(ctx).(*kmsg.ProduceResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Errorf("produce %d: code %d base offset %d", i, p.ErrorCode, p.BaseOffset)
		}
	}
	if n := c.deferredProduces.Load(); n != 0 {
		t.Errorf("%d produces still deferred", n)
	}
	// With nothing deferred, a produce to a known topic appends at once.
	if third := handleProduce(c, produceRequest(t, "known", "three")); third.wait == nil {
		t.Error("no wait for the commit")
	} else if resp := third.wait(ctx).(*kmsg.ProduceResponse); resp.Topics[0].Partitions[0].BaseOffset != 1 {
		t.Errorf("third produce at %d, want 1", resp.Topics[0].Partitions[0].BaseOffset)
	}
}

// A lone produce is answered once the buffer goes idle, not a flush
// interval later (the cut policy itself is tested in agent/writer).
func TestLoneProduceIsCutOnceIdle(t *testing.T) {
	a := newTestAgent(t, func(c *Config) { c.FlushInterval = 5 * time.Second })
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic("idle"), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("lone")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a lone produce took %v with a 5s flush interval; want it cut once idle", took)
	}
}
