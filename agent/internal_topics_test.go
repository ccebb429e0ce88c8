package agent_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
)

// __consumer_offsets is where Kafka's tools look for committed offsets and
// group membership: Metadata lists it as internal, and a consumer reading
// it (as Burrow and kminion do) finds each commit in Kafka's key and value
// formats, in the partition Kafka would use, and the next commit as it
// happens. Clients cannot write to it or create it.
func TestConsumerOffsetsTopic(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	const group = "lag-watched"
	commit := func(p int32, at int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.AddOffset("orders", p, at, -1)
		resp, err := a.adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	commit(0, 3)
	commit(1, 5)

	topics, err := a.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	td, ok := topics[offsetstopic.Topic]
	if !ok || !td.IsInternal || len(td.Partitions) != offsetstopic.Partitions {
		t.Fatalf("metadata lists %s as %+v, want an internal topic of %d partitions", offsetstopic.Topic, td, offsetstopic.Partitions)
	}
	plain, err := a.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain[offsetstopic.Topic]; ok {
		t.Errorf("a listing without internal topics shows %s", offsetstopic.Topic)
	}

	partition := offsetstopic.PartitionFor(group)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		offsetstopic.Topic: {partition: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	committed := map[int32]int64{}
	read := func(want map[int32]int64) {
		t.Helper()
		for !mapsEqual(committed, want) {
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatalf("read %s: %v (have %v, want %v)", offsetstopic.Topic, err, committed, want)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Partition != partition {
					t.Errorf("a record in partition %d, want %d", r.Partition, partition)
				}
				var k kmsg.OffsetCommitKey
				if err := k.ReadFrom(r.Key); err != nil || k.Version > 1 {
					return // group metadata
				}
				var v kmsg.OffsetCommitValue
				if err := v.ReadFrom(r.Value); err != nil {
					t.Errorf("offset commit value: %v", err)
					return
				}
				if k.Group != group || k.Topic != "orders" {
					t.Errorf("commit record for %s/%s", k.Group, k.Topic)
				}
				committed[k.Partition] = v.Offset
			})
		}
	}
	read(map[int32]int64{0: 3, 1: 5})
	commit(0, 9) // a consumer at the end gets the next commit
	read(map[int32]int64{0: 9, 1: 5})

	prod, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.RecordRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	err = prod.ProduceSync(ctx, &kgo.Record{Topic: offsetstopic.Topic, Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Errorf("produce to %s: %v, want INVALID_TOPIC_EXCEPTION", offsetstopic.Topic, err)
	}
	created, err := a.adm.CreateTopic(ctx, 1, 1, nil, offsetstopic.Topic)
	if !errors.Is(err, kerr.TopicAlreadyExists) && !errors.Is(created.Err, kerr.TopicAlreadyExists) {
		t.Errorf("create %s: %v / %v, want TOPIC_ALREADY_EXISTS", offsetstopic.Topic, err, created.Err)
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Tools that list internal topics and describe them all
// (kafka-transactions.sh find-hanging, kafka-topics.sh --describe) find
// __consumer_offsets as Metadata lists it: DescribeTopicPartitions gives
// its 50 partitions, DescribeConfigs says it is compacted, and
// DescribeProducers finds no producer writing there.
func TestConsumerOffsetsTopicDescribed(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
	rt.Topic = "__consumer_offsets"
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatal(err)
	}
	if d := resp.Topics[0]; len(resp.Topics) != 1 || d.ErrorCode != 0 || !d.IsInternal || len(d.Partitions) != 50 {
		t.Errorf("DescribeTopicPartitions: %+v", resp.Topics)
	}
	configs, err := a.adm.DescribeTopicConfigs(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := configs.On("__consumer_offsets", nil); err != nil || c.Err != nil || !slices.ContainsFunc(c.Configs, func(kv kadm.Config) bool {
		return kv.Key == "cleanup.policy" && kv.MaybeValue() == "compact"
	}) {
		t.Errorf("DescribeConfigs: %+v %v", c, err)
	}
	producers, err := a.adm.DescribeProducers(ctx, kadm.TopicsSet{"__consumer_offsets": {0: {}, 49: {}}})
	if err != nil {
		t.Fatal(err)
	}
	producers.EachPartition(func(p kadm.DescribedProducersPartition) {
		if p.Err != nil || len(p.ActiveProducers) != 0 {
			t.Errorf("DescribeProducers of partition %d: %+v", p.Partition, p)
		}
	})
}
