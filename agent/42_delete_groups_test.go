package agent_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A deleted group is gone at once, as in Kafka: ListGroups no longer lists
// it, DescribeGroups finds it Dead, its offsets are gone, and a consumer
// that joins under the same name later starts a new group from scratch.
// (Found by Kafka's AdminClient: deleteConsumerGroups, then listGroups still
// listed the group as Empty.)
func TestDeletedGroupIsGone(t *testing.T) {
	ctx, a := startAgent(t, 60*time.Second)
	cl, adm := a.cl, a.adm
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dg"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dg", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	for _, balancer := range []struct {
		group string
		opts  []kgo.Opt
	}{
		{"dg-classic", nil},
		{"dg-consumer", []kgo.Opt{kgo.ServerSideBalancer()}}, // KIP-848
	} {
		// A member joins, reads the record, commits and leaves.
		opts := append([]kgo.Opt{kgo.SeedBrokers(a.seeds...), kgo.ConsumerGroup(balancer.group),
			kgo.ConsumeTopics("dg"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit()}, balancer.opts...)
		m, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if fs := m.PollRecords(ctx, 1); fs.NumRecords() != 1 {
			t.Fatalf("%s: polled %d records, errors %v", balancer.group, fs.NumRecords(), fs.Errors())
		}
		if err := m.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		m.Close()

		deleted, err := adm.DeleteGroup(ctx, balancer.group)
		if err != nil || deleted.Err != nil {
			t.Fatalf("delete %s: %v %v", balancer.group, err, deleted.Err)
		}
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := listed[balancer.group]; ok {
			t.Errorf("ListGroups still lists deleted group %s: %+v", balancer.group, listed[balancer.group])
		}
		described, err := adm.DescribeGroups(ctx, balancer.group)
		if err != nil {
			t.Fatal(err)
		}
		if d := described[balancer.group]; d.Err == nil && d.State != "Dead" {
			t.Errorf("DescribeGroups of deleted group %s: state %q, err %v", balancer.group, d.State, d.Err)
		} else if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			t.Errorf("DescribeGroups of deleted group %s: %v", balancer.group, d.Err)
		}
		offsets, err := adm.FetchOffsets(ctx, balancer.group)
		if err != nil {
			t.Fatal(err)
		}
		if len(offsets) != 0 {
			t.Errorf("deleted group %s still has offsets %v", balancer.group, offsets)
		}
		// Deleting it again: nothing is left to delete.
		if again, _ := adm.DeleteGroup(ctx, balancer.group); !errors.Is(again.Err, kerr.GroupIDNotFound) {
			t.Errorf("second delete of %s: %v, want GROUP_ID_NOT_FOUND", balancer.group, again.Err)
		}

		// The name can be used again: a new member starts from the beginning.
		m, err = kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if fs := m.PollRecords(ctx, 1); fs.NumRecords() != 1 || fs.Records()[0].Offset != 0 {
			t.Errorf("%s after delete: polled %d records, errors %v", balancer.group, fs.NumRecords(), fs.Errors())
		}
		m.Close()
	}
}
