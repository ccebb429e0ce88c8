// Package consoletest starts what the console's tests look at: a cluster of
// agents in process with topics, records (binary ones among them) and a
// consumer group with a live member and lag, so the console's answers can
// be compared with the admin API's (kadm). The agent's adapter test and
// the browser test (console/browsertest) share it.
package consoletest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
	"github.com/silt-io/silt/objstore"
)

// The fixture's names and sizes.
const (
	Topic      = "orders"
	Partitions = 3
	// PerPartition records are written to each partition of Topic.
	PerPartition = 40
	// Committed is the offset the group commits on each partition, so
	// each has PerPartition-Committed lag.
	Committed = 15
	Group     = "billing"
	// TruncatedPartition has its log start moved to TruncatedStart
	// (DeleteRecords), so not every log starts at 0.
	TruncatedPartition = 2
	TruncatedStart     = 5
	// BinaryOffset is the offset of partition 0's record whose value is
	// not UTF-8 (BinaryValue) and which has a header.
	BinaryOffset = 7
)

// BinaryValue is a value that is not UTF-8.
var BinaryValue = []byte{0xff, 0xfe, 0x00, 0x01, 's', 'i', 'l', 't'}

// Fixture is a running cluster with traffic and a group.
type Fixture struct {
	Cluster *localstack.Cluster
	Client  *kgo.Client
	Admin   *kadm.Client
	// Member is the group's live member, consuming Topic.
	Member *kgo.Client
	// Topics are every topic created, Topic first.
	Topics []string
}

// Options change the fixture.
type Options struct {
	// Agents defaults to 3.
	Agents int
	// ExtraTopics creates topics extra-0000… of one partition beside
	// Topic, for paging.
	ExtraTopics int
}

// Start starts the fixture; everything stops with the test.
func Start(t testing.TB, opts Options) *Fixture {
	t.Helper()
	if opts.Agents == 0 {
		opts.Agents = 3
	}
	// Agent 0's registry also holds the bucket's request counters, so the
	// console has object-store request rates to show; the agents share
	// one bucket here, so agent 0's counters are the cluster's.
	reg := prometheus.NewRegistry()
	// The compactor runs (as it does by default), passing every second
	// rather than every 30 so that Topic's Parquet export is there soon.
	c := localstacktest.StartT(t, localstack.Options{
		Agents:     opts.Agents,
		Metrics:    objstore.NewMetrics(reg),
		Compaction: true,
		Configure: func(i int, cfg *agent.Config) {
			cfg.CompactionInterval = time.Second
			if i == 0 {
				cfg.Registry = reg
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := &Fixture{Cluster: c, Topics: []string{Topic}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.Client, f.Admin = cl, kadm.NewClient(cl)
	if err := f.WaitMembers(ctx, opts.Agents); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Admin.CreateTopic(ctx, Partitions, 1, nil, Topic); err != nil {
		t.Fatal(err)
	}
	for i := range opts.ExtraTopics {
		name := fmt.Sprintf("extra-%04d", i)
		f.Topics = append(f.Topics, name)
	}
	for from := 1; from < len(f.Topics); from += 100 {
		resp, err := f.Admin.CreateTopics(ctx, 1, 1, nil, f.Topics[from:min(from+100, len(f.Topics))]...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var recs []*kgo.Record
	for p := range int32(Partitions) {
		for i := range PerPartition {
			r := &kgo.Record{Topic: Topic, Partition: p, Key: fmt.Appendf(nil, "key-%d-%d", p, i), Value: fmt.Appendf(nil, "order %d of partition %d", i, p)}
			if p == 0 && i == BinaryOffset {
				r.Value = BinaryValue
				r.Headers = []kgo.RecordHeader{{Key: "source", Value: []byte("console-test")}}
			}
			recs = append(recs, r)
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var trunc kadm.Offsets
	trunc.AddOffset(Topic, TruncatedPartition, TruncatedStart, -1)
	deleted, err := f.Admin.DeleteRecords(ctx, trunc)
	if err == nil {
		err = deleted.Error()
	}
	if err != nil {
		t.Fatal(err)
	}

	// Export once the log is as the tests expect it, so the export holds
	// exactly the records not deleted.
	export := "parquet"
	altered, err := f.Admin.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "silt.export", Value: &export}}, Topic)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = altered.On(Topic, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := f.waitExported(ctx); err != nil {
		t.Fatal(err)
	}

	member, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.ConsumerGroup(Group), kgo.ConsumeTopics(Topic),
		kgo.ClientID("billing-app"), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(member.Close)
	f.Member = member
	// Poll until the member has read from every partition (so it holds
	// them all), then commit the same offset on each.
	for len(member.UncommittedOffsets()[Topic]) < Partitions {
		if ctx.Err() != nil {
			t.Fatalf("the group member got no assignment: %v", ctx.Err())
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		member.PollFetches(pctx)
		pcancel()
	}
	member.PauseFetchTopics(Topic)
	commit := map[string]map[int32]kgo.EpochOffset{Topic: {}}
	for p := range int32(Partitions) {
		commit[Topic][p] = kgo.EpochOffset{Epoch: -1, Offset: Committed}
	}
	var commitErr error
	member.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 && commitErr == nil {
					commitErr = fmt.Errorf("commit %s/%d: error code %d", rt.Topic, rp.Partition, rp.ErrorCode)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatal(commitErr)
	}
	return f
}

// WaitMembers waits until every agent sees n members.
func (f *Fixture) WaitMembers(ctx context.Context, n int) error {
	for {
		ok := true
		for _, a := range f.Cluster.Agents {
			ok = ok && len(a.Members()) == n
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agents do not all see %d members: %w", n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitExported waits until the compactor has exported every record of
// Topic to Parquet.
func (f *Fixture) waitExported(ctx context.Context) error {
	for {
		done := true
		f.Cluster.Agents[0].Journal().View(func(s *journal.State) {
			t := s.Topic(Topic)
			for i, p := range t.Partitions {
				done = done && s.Progress(t.ID, int32(i)).Exported >= p.NextOffset
			}
		})
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not exported to Parquet: %w", Topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// HTTP returns the base URL of agent i's console.
func (f *Fixture) HTTP(i int) string { return "http://" + f.Cluster.Agents[i].HTTPAddr() }
