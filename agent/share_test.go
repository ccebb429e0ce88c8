package agent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// setGroupConfig sets a group config with IncrementalAlterConfigs on a
// GROUP resource, as kafka-configs --entity-type groups does.
func setGroupConfig(ctx context.Context, t testing.TB, cl *kgo.Client, group, key, value string) {
	t.Helper()
	r := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value, rc.Op = key, &value, kmsg.IncrementalAlterConfigOpSet
	rr.Configs = append(rr.Configs, rc)
	r.Resources = append(r.Resources, rr)
	resp, err := r.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		t.Fatalf("set %s: %v", key, err)
	}
}

// Three franz-go share consumers in one share group on three agents read
// a topic of three partitions: every record is delivered and accepted
// once, records one member releases go to a member with a higher
// delivery count, and the group's offsets end at the log end. The group
// is listed and described with its type, and deleted once empty.
func TestShareGroupKgo(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{Agents: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "jobs"); err != nil {
		t.Fatal(err)
	}
	setGroupConfig(ctx, t, admCl, "workers", "share.auto.offset.reset", "earliest")
	const n = 600
	for i := range n {
		admCl.Produce(ctx, &kgo.Record{Topic: "jobs", Partition: int32(i % 3), Value: fmt.Appendf(nil, "job-%d", i)}, nil)
	}
	if err := admCl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	accepted := map[string]int{}
	released := map[string]bool{}
	redelivered := 0
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 3 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.ShareGroup("workers"), kgo.ConsumeTopics("jobs"),
			kgo.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer cl.Close()
			for {
				select {
				case <-done:
					return
				default:
				}
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				fs := cl.PollFetches(pctx)
				pcancel()
				fs.EachRecord(func(r *kgo.Record) {
					key := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
					mu.Lock()
					defer mu.Unlock()
					// The first delivery of every tenth record is
					// released; a member gets it again.
					if r.Offset%10 == 0 && r.DeliveryCount() == 1 {
						released[key] = true
						r.Ack(kgo.AckRelease)
						return
					}
					if r.DeliveryCount() > 1 {
						redelivered++
					}
					accepted[key]++
					r.Ack(kgo.AckAccept)
				})
				if err := cl.FlushAcks(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("flush acks: %v", err)
				}
			}
		})
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		got := len(accepted)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted %d distinct records of %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	mu.Lock()
	for k, times := range accepted {
		if times != 1 {
			t.Errorf("record %s accepted %d times", k, times)
		}
	}
	if len(released) != n/10 || redelivered != n/10 {
		t.Errorf("%d records released, %d redeliveries accepted", len(released), redelivered)
	}
	mu.Unlock()

	// The coordinator may apply the owners' last writes a moment later.
	for try := 0; ; try++ {
		offs, err := adm.DescribeShareGroupOffsets(ctx, "workers")
		if err != nil {
			t.Fatal(err)
		}
		var wrong []string
		for _, p := range []int32{0, 1, 2} {
			if o, ok := offs["workers"].Offsets.Lookup("jobs", p); !ok || o.StartOffset != n/3 || o.Lag != 0 {
				wrong = append(wrong, fmt.Sprintf("%+v", o))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if try == 150 {
			t.Fatalf("offsets %v, want start %d and lag 0 everywhere", wrong, n/3)
		}
		time.Sleep(100 * time.Millisecond)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := listed["workers"]; !ok || g.ProtocolType != "share" {
		t.Errorf("listed: %+v", listed)
	}
	// The name is taken by a share group: a classic member is refused.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType = 9, "workers", "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if resp, err := join.RequestWith(ctx, admCl); err != nil {
		t.Error(err)
	} else if resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Errorf("a classic join of the share group: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if _, err := adm.DeleteGroup(ctx, "workers"); err != nil {
		t.Errorf("delete the empty share group: %v", err)
	}
}
