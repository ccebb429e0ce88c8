package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// CreateTopics and CreatePartitions accept explicit replica assignments
// when every replica is a live agent, as Kafka accepts them on a cluster
// of those brokers; the partition count is the number of assignments.
func TestReplicaAssignments(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{Agents: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	n0, n1 := c.Agents[0].NodeID(), c.Agents[1].NodeID()
	for len(c.Agents[0].Members()) < 2 || len(c.Agents[1].Members()) < 2 {
		select {
		case <-ctx.Done():
			t.Fatal("the agents never saw each other")
		case <-time.After(20 * time.Millisecond):
		}
	}

	create := func(name string, parts int32, rf int16, assignment map[int32][]int32) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
		for p, replicas := range assignment {
			as := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			as.Partition, as.Replicas = p, replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, as)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	for _, tc := range []struct {
		name       string
		parts      int32
		rf         int16
		assignment map[int32][]int32
		want       int16
	}{
		{"assigned", -1, -1, map[int32][]int32{0: {n0, n1}, 1: {n1, n0}, 2: {n0}}, 0},
		{"unknown broker", -1, -1, map[int32][]int32{0: {n0, 424242}}, kerr.InvalidReplicaAssignment.Code},
		{"replica twice", -1, -1, map[int32][]int32{0: {n0, n0}}, kerr.InvalidReplicaAssignment.Code},
		{"gap in partitions", -1, -1, map[int32][]int32{0: {n0}, 2: {n1}}, kerr.InvalidReplicaAssignment.Code},
		{"count and assignment", 2, -1, map[int32][]int32{0: {n0}, 1: {n1}}, kerr.InvalidRequest.Code},
	} {
		got := create("assigned-"+strings.ReplaceAll(tc.name, " ", "-"), tc.parts, tc.rf, tc.assignment)
		if got.ErrorCode != tc.want {
			t.Errorf("%s: error %d (%v), want %d", tc.name, got.ErrorCode, got.ErrorMessage, tc.want)
		}
	}
	// The other agent may apply the creation a moment later, as a Kafka
	// broker may: look until both answer for it.
	var td kadm.TopicDetails
	for deadline := time.Now().Add(15 * time.Second); ; {
		var err error
		td, err = adm.ListTopics(ctx, "assigned-assigned")
		if err == nil && td["assigned-assigned"].Err == nil && len(td["assigned-assigned"].Partitions) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("assigned topic not listed: %v %v", td, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(td["assigned-assigned"].Partitions); n != 3 {
		t.Fatalf("assigned topic has %d partitions, want 3 (one per assignment)", n)
	}

	grow := func(count int32, assignment ...[]int32) int16 {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "assigned-assigned", count
		for _, replicas := range assignment {
			as := kmsg.NewCreatePartitionsRequestTopicAssignment()
			as.Replicas = replicas
			rt.Assignment = append(rt.Assignment, as)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
	if code := grow(5, []int32{n1}); code != kerr.InvalidReplicaAssignment.Code {
		t.Errorf("two new partitions, one assignment: error %d, want INVALID_REPLICA_ASSIGNMENT", code)
	}
	if code := grow(4, []int32{999}); code != kerr.InvalidReplicaAssignment.Code {
		t.Errorf("assignment to an unknown broker: error %d, want INVALID_REPLICA_ASSIGNMENT", code)
	}
	if code := grow(5, []int32{n1}, []int32{n0, n1}); code != 0 {
		t.Errorf("assignments to live agents: error %d, want none", code)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		td, err := adm.ListTopics(ctx, "assigned-assigned")
		if err == nil && len(td["assigned-assigned"].Partitions) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after growing: %v %v, want 5 partitions", td, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
