package agent_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// BenchmarkShareRedelivery measures issue 20's target: a record whose
// acquisition lock runs out goes to another member within the lock
// duration and one flush. One agent on a file bucket at its defaults; the
// group's share.record.lock.duration.ms is 1000, Kafka's least. In each
// iteration a record is produced (the time its acknowledgement takes is
// one flush on this store: the reference, measured in the same run),
// member A acquires it and never acknowledges it, and member B's
// ShareFetch is already waiting when the lock runs out. The time from A's
// acquisition to B's delivery (delivery count 2), less the lock duration,
// is how late the redelivery is. It reports the median and the worst
// lateness and the median flush, in ms:
//
//	go test -run '^$' -bench ShareRedelivery -benchtime 10x ./agent/
func BenchmarkShareRedelivery(b *testing.B) {
	const lock = time.Second
	c := localstacktest.StartT(b, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.DefaultProduceTopic("jobs"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 1, -1, nil, "jobs")
	if err != nil {
		b.Fatal(err)
	}
	setGroupConfig(ctx, b, cl, "workers", "share.record.lock.duration.ms", fmt.Sprint(lock.Milliseconds()))
	setGroupConfig(ctx, b, cl, "workers", "share.auto.offset.reset", "earliest")
	a := newShareMember(ctx, b, c.Seeds(), "workers", created.ID)
	bm := newShareMember(ctx, b, c.Seeds(), "workers", created.ID)

	var late, flush []float64
	var ack []int64 // B's acknowledgement of the record it got, sent with its next fetch
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		r, err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "job-%d", i)}).First()
		if err != nil {
			b.Fatal(err)
		}
		flush = append(flush, millis(time.Since(start)))

		acquired := a.fetchUntil(ctx, b, nil, func(off int64, count int16) bool { return off == r.Offset })
		held := time.Now()
		if acquired != 1 {
			b.Fatalf("A got record %d at delivery %d, want its first", r.Offset, acquired)
		}
		a.heartbeat(ctx, b)
		count := bm.fetchUntil(ctx, b, ack, func(off int64, _ int16) bool { return off == r.Offset })
		late = append(late, millis(time.Since(held)-lock))
		if count != 2 {
			b.Fatalf("B got record %d at delivery %d, want its second", r.Offset, count)
		}
		ack = []int64{r.Offset}
		bm.heartbeat(ctx, b)
	}
	b.StopTimer()
	slices.Sort(late)
	slices.Sort(flush)
	b.ReportMetric(late[len(late)/2], "ms-late-median")
	b.ReportMetric(late[len(late)-1], "ms-late-max")
	b.ReportMetric(flush[len(flush)/2], "ms-flush-median")
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// shareMember is a share group member spoken to in raw requests over a
// client of its own, so that nothing fetches or acknowledges behind the
// benchmark's back as a share consumer would.
type shareMember struct {
	cl           *kgo.Client
	group, id    string
	topic        [16]byte
	memberEpoch  int32
	sessionEpoch int32
}

// newShareMember joins group and heartbeats until topic's partition 0 is
// assigned to it.
func newShareMember(ctx context.Context, tb testing.TB, seeds []string, group string, topic [16]byte) *shareMember {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	m := &shareMember{cl: cl, group: group, id: fmt.Sprintf("member-%p", cl), topic: topic}
	for try := 0; ; try++ {
		resp := m.heartbeat(ctx, tb)
		if resp.Assignment != nil && slices.ContainsFunc(resp.Assignment.TopicPartitions, func(tp kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition) bool {
			return tp.TopicID == topic && slices.Contains(tp.Partitions, 0)
		}) {
			return m
		}
		if try == 100 {
			tb.Fatalf("member %s: partition 0 not assigned after %d heartbeats", m.id, try)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *shareMember) heartbeat(ctx context.Context, tb testing.TB) *kmsg.ShareGroupHeartbeatResponse {
	tb.Helper()
	r := kmsg.NewPtrShareGroupHeartbeatRequest()
	r.GroupID, r.MemberID, r.MemberEpoch = m.group, m.id, m.memberEpoch
	if m.memberEpoch == 0 {
		r.SubscribedTopicNames = []string{"jobs"}
	}
	resp, err := r.RequestWith(ctx, m.cl)
	if err != nil {
		tb.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		tb.Fatalf("heartbeat of %s: %v", m.id, err)
	}
	m.memberEpoch = resp.MemberEpoch
	return resp
}

// fetchUntil sends ShareFetches of partition 0 (the first acknowledging
// acks with ACCEPT) until one delivers a record want accepts, and returns
// that record's delivery count.
func (m *shareMember) fetchUntil(ctx context.Context, tb testing.TB, acks []int64, want func(int64, int16) bool) int16 {
	tb.Helper()
	for try := 0; try < 100; try++ {
		r := kmsg.NewPtrShareFetchRequest()
		r.GroupID, r.MemberID, r.ShareSessionEpoch = &m.group, &m.id, m.sessionEpoch
		r.MaxWaitMillis, r.MinBytes, r.MaxBytes, r.MaxRecords = 5000, 1, 1<<20, 500
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = m.topic
		rp := kmsg.NewShareFetchRequestTopicPartition()
		for _, off := range acks {
			ab := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
			ab.FirstOffset, ab.LastOffset, ab.AcknowledgeTypes = off, off, []int8{1} // ACCEPT
			rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, ab)
		}
		acks = nil
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		resp, err := r.RequestWith(ctx, m.cl)
		if err != nil {
			tb.Fatal(err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			tb.Fatalf("share fetch of %s: %v", m.id, err)
		}
		m.sessionEpoch++
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					tb.Fatalf("share fetch of %s, partition %d: %v", m.id, p.Partition, err)
				}
				if err := kerr.ErrorForCode(p.AcknowledgeErrorCode); err != nil {
					tb.Fatalf("acknowledgement of %s: %v", m.id, err)
				}
				for _, a := range p.AcquiredRecords {
					for off := a.FirstOffset; off <= a.LastOffset; off++ {
						if want(off, a.DeliveryCount) {
							return a.DeliveryCount
						}
					}
				}
			}
		}
	}
	tb.Fatalf("member %s: no wanted record in 100 fetches", m.id)
	return 0
}
