package agent_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceN produces n records with kgo's defaults (idempotent, acks=all)
// to partition 0 of topic.
func produceN(ctx context.Context, t *testing.T, seeds []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: 0, Key: []byte("k"), Value: []byte("value " + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// Tools that size topics (kafka-log-dirs.sh, kadm) sum the sizes every
// broker reports for its log dirs; each agent reports the partitions it
// owns with their bytes in the bucket.
func TestDescribeLogDirs(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 2, 1, nil, "sized"); err != nil {
		t.Fatal(err)
	}
	produceN(ctx, t, a.seeds, "sized", 20)
	all, err := a.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("log dirs of %d brokers, want 1", len(all))
	}
	for broker, dirs := range all {
		if len(dirs) != 1 {
			t.Fatalf("broker %d: %d log dirs, want 1", broker, len(dirs))
		}
		for name, d := range dirs {
			if d.Err != nil || name == "" {
				t.Fatalf("dir %q: %v", name, d.Err)
			}
			p0, ok := d.Topics["sized"][0]
			if !ok || p0.Size < int64(20*len("value 0")) {
				t.Errorf("partition 0: present %v, size %d; want the 20 records' bytes", ok, p0.Size)
			}
			if p1, ok := d.Topics["sized"][1]; !ok || p1.Size != 0 {
				t.Errorf("partition 1: present %v, size %d; want present and empty", ok, p1.Size)
			}
		}
	}
	one, err := a.adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{"sized": {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, dirs := range one {
		for _, d := range dirs {
			if _, ok := d.Topics["sized"][0]; ok || len(d.Topics) != 1 {
				t.Errorf("asked for sized/1, got %v", d.Topics)
			}
		}
	}
}

// ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments
// are answered as a Kafka cluster answers when nothing needs to change.
func TestLeadersAndReassignments(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 2, 1, nil, "placed"); err != nil {
		t.Fatal(err)
	}
	md, err := a.adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self := md.Brokers[0].NodeID

	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := a.adm.ElectLeaders(ctx, how, kadm.TopicsSet{"placed": {0: {}, 1: {}}, "nope": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		for p := range int32(2) {
			if r := res["placed"][p]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
				t.Errorf("elect %v placed/%d: %v, want ELECTION_NOT_NEEDED", how, p, r.Err)
			}
		}
		if r := res["nope"][0]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("elect unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
		}
	}
	all, err := a.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil || len(all) != 0 {
		t.Errorf("elect for all partitions: %v, %v; want no partition needing it", all, err)
	}

	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("placed", 0, []int32{self})
	req.Assign("placed", 1, []int32{self + 1})
	req.CancelAssign("nope", 0)
	alt, err := a.adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic     string
		partition int32
		want      error
	}{
		{"placed", 0, nil},
		{"placed", 1, kerr.InvalidReplicaAssignment},
		{"nope", 0, kerr.UnknownTopicOrPartition},
	} {
		if got := alt[c.topic][c.partition].Err; !errors.Is(got, c.want) && (got != nil || c.want != nil) {
			t.Errorf("reassign %s/%d: %v, want %v", c.topic, c.partition, got, c.want)
		}
	}
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.CancelAssign("placed", 0)
	if alt, err = a.adm.AlterPartitionAssignments(ctx, cancel); err != nil || !errors.Is(alt["placed"][0].Err, kerr.NoReassignmentInProgress) {
		t.Errorf("cancel: %v %v, want NO_REASSIGNMENT_IN_PROGRESS", alt, err)
	}
	list, err := a.adm.ListPartitionReassignments(ctx, nil)
	if err != nil || len(list) != 0 {
		t.Errorf("list reassignments: %v, %v; want none in progress", list, err)
	}
}

// DescribeProducers reports the idempotent producer that wrote a
// partition, with its last sequence.
func TestDescribeProducers(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 2, 1, nil, "produced"); err != nil {
		t.Fatal(err)
	}
	produceN(ctx, t, a.seeds, "produced", 7)
	ds, err := a.adm.DescribeProducers(ctx, kadm.TopicsSet{"produced": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p0 := ds["produced"].Partitions[0]
	if p0.Err != nil || len(p0.ActiveProducers) != 1 {
		t.Fatalf("partition 0: %v, %d producers; want one", p0.Err, len(p0.ActiveProducers))
	}
	for _, p := range p0.ActiveProducers {
		if p.ProducerID < 0 || p.LastSequence != 6 || p.LastTimestamp <= 0 || p.CurrentTxnStartOffset != -1 {
			t.Errorf("producer %+v: want an id, last sequence 6, a time and no transaction", p)
		}
	}
	if p1 := ds["produced"].Partitions[1]; p1.Err != nil || len(p1.ActiveProducers) != 0 {
		t.Errorf("partition 1: %v, %d producers; want none", p1.Err, len(p1.ActiveProducers))
	}
}

// DescribeTopicPartitions (the Java AdminClient's describeTopics in Kafka
// 4.x) pages through partitions with a cursor.
func TestDescribeTopicPartitionsPages(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 3, 1, nil, "paged-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.adm.CreateTopic(ctx, 2, 1, nil, "paged-b"); err != nil {
		t.Fatal(err)
	}
	type tp struct {
		topic     string
		partition int32
	}
	var got []tp
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("cursor never ends")
		}
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		for _, name := range []string{"paged-b", "paged-a", "unknown-topic"} {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			req.Topics = append(req.Topics, rt)
		}
		req.ResponsePartitionLimit, req.Cursor = 2, cursor
		resp, err := req.RequestWith(ctx, a.cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range resp.Topics {
			if *rt.Topic == "unknown-topic" {
				if rt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
					t.Errorf("unknown topic: error %d", rt.ErrorCode)
				}
				continue
			}
			if rt.ErrorCode != 0 || rt.AuthorizedOperations <= 0 {
				t.Errorf("%s: error %d, authorized operations %d", *rt.Topic, rt.ErrorCode, rt.AuthorizedOperations)
			}
			for _, p := range rt.Partitions {
				if len(p.Replicas) != 1 || p.LeaderID != p.Replicas[0] {
					t.Errorf("%s/%d: leader %d replicas %v", *rt.Topic, p.Partition, p.LeaderID, p.Replicas)
				}
				got = append(got, tp{*rt.Topic, p.Partition})
			}
		}
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []tp{{"paged-a", 0}, {"paged-a", 1}, {"paged-a", 2}, {"paged-b", 0}, {"paged-b", 1}}
	if len(got) != len(want) {
		t.Fatalf("paged through %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("paged through %v, want %v", got, want)
		}
	}
}
