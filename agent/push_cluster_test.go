package agent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/recordbatch"
)

// gauge reads the value of an unlabelled metric from reg (0 if absent).
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// In a cluster, the committer's entries that carry inline segments reach
// the other agent by push: the peer applies pushed entries and the
// committer counts no failed push.
func TestInlineEntriesArePushed(t *testing.T) {
	var mu sync.Mutex
	regs := map[string]*prometheus.Registry{}
	c := localstacktest.StartT(t, localstack.Options{Agents: 2, Configure: func(_ int, cfg *agent.Config) {
		reg := prometheus.NewRegistry()
		cfg.Registry = reg
		mu.Lock()
		regs[cfg.NodeName] = reg
		mu.Unlock()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Wait until both agents see both, and find the committer.
	var committer, peer *agent.Agent
	for committer == nil {
		for i, a := range c.Agents {
			if len(a.Members()) == 2 && gauge(t, regs[a.NodeName()], "silt_cluster_committer") == 1 {
				committer, peer = a, c.Agents[1-i]
			}
		}
		if committer == nil {
			select {
			case <-ctx.Done():
				t.Fatal("no agent took the committer role")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	for len(peer.Members()) != 2 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(committer.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ct := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "pushed", 1, 1
	ct.Topics = append(ct.Topics, rt)
	if _, err := ct.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}

	// Count the peer's pushed entries from when it has the topic.
	for peer.Journal().Seq() < committer.Journal().Seq() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	before := gauge(t, regs[peer.NodeName()], "silt_journal_push_applied_total")

	// A produce sent to the committer itself: its writer inlines the
	// small segment in its journal entry.
	b, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, BaseSequence: -1},
		[]recordbatch.Record{{Value: []byte("inline"), Timestamp: 1}}, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 30000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "pushed"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = b
	pt.Partitions = append(pt.Partitions, pp)
	req.Topics = append(req.Topics, pt)
	resp, err := cl.Broker(int(committer.NodeID())).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce: code %d", code)
	}
	seq := committer.Journal().Seq()
	var object string
	committer.Journal().View(func(s *journal.State) { object = s.Partition("pushed", 0).Chunks[0].Object })
	if !journal.IsEntryKey(object) {
		t.Fatalf("the segment was not inlined: it is in %q", object)
	}

	for peer.Journal().Seq() < seq {
		select {
		case <-peer.Journal().Changed():
		case <-ctx.Done():
			t.Fatalf("the peer never applied entry %d", seq)
		}
	}
	// The committer counts a push once the peer has answered it.
	for gauge(t, regs[committer.NodeName()], "silt_journal_pushes_total") < 1 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if n := gauge(t, regs[peer.NodeName()], "silt_journal_push_applied_total") - before; n < 1 {
		t.Errorf("the peer applied %v pushed entries since the inline one was written, want it", n)
	}
	if n := gauge(t, regs[committer.NodeName()], "silt_journal_push_failures_total"); n != 0 {
		t.Errorf("%v pushes failed", n)
	}
}
