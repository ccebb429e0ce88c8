package sharegroups

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/internal/memjournal"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// The tests run share groups without sockets or a bucket: services (one
// per pretend agent) share a journal kept in memory, time is a fake clock,
// ownership is whatever the test says, and a partition's log is a count
// of records whose batches (ten records each) are made when read.

// memLog is the journal, with a log of records per partition.
type memLog struct {
	*memjournal.Journal
}

func (j *memLog) submit(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16) {
	return j.Submit(ctx, cmds...)
}

// produce appends n records to a partition's log, as one committed batch
// of a chunk that read makes up.
func (j *memLog) produce(topic string, partition int32, n int64) {
	var id journal.TopicID
	j.View(func(s *journal.State) { id = s.Topic(topic).ID })
	j.Submit(context.Background(), journal.Command{CommitSegment: &journal.CommitSegment{Object: "made-up", Chunks: []journal.ChunkCommit{{
		Topic: topic, TopicID: id, Partition: partition, Batches: []journal.Batch{{Records: int32(n), ProducerID: -1}},
	}}}})
}

// read returns the batches from the one holding from, ten offsets each.
func (j *memLog) read(_ context.Context, topic string, partition int32, from int64, maxBytes int) ([]byte, int16) {
	var end int64
	j.View(func(s *journal.State) { end = s.Partition(topic, partition).NextOffset })
	var out []byte
	for base := from - from%10; base < end && (len(out) == 0 || len(out) < maxBytes); base += 10 {
		var recs []recordbatch.Record
		for off := base; off < min(base+10, end); off++ {
			recs = append(recs, recordbatch.Record{Timestamp: 1, Value: []byte{byte(off)}})
		}
		b, err := recordbatch.Encode(recordbatch.Header{BaseOffset: base, FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1}, recs, recordbatch.CodecNone)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out, 0
}

type cluster struct {
	t     *testing.T
	clock *clock.Fake
	log   *memLog
	mu    sync.Mutex
	owner string
	svcs  map[string]*Service
	regs  map[string]*prometheus.Registry
}

func newCluster(t *testing.T, partitions int32) *cluster {
	c := &cluster{t: t, clock: clock.NewFake(time.Unix(1_700_000_000, 0)), svcs: map[string]*Service{}, regs: map[string]*prometheus.Registry{}}
	c.log = &memLog{memjournal.New(c.clock)}
	c.log.submit(context.Background(), journal.Command{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: partitions}})
	t.Cleanup(func() {
		for _, s := range c.svcs {
			s.Close()
		}
	})
	return c
}

// agent returns the named agent's service; the first one owns everything.
func (c *cluster) agent(name string) *Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.svcs[name]; s != nil {
		return s
	}
	owns := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.owner == name }
	c.regs[name] = prometheus.NewRegistry()
	s := New(Env{Clock: c.clock, NodeName: name, Journal: c.log, Submit: c.log.submit, Read: c.log.read, Registerer: c.regs[name],
		OwnsGroup: func(string) bool { return owns() }, OwnsPartition: func(string, int32) bool { return owns() }})
	c.svcs[name] = s
	if c.owner == "" {
		c.owner = name
	}
	return s
}

// moveTo makes another agent own everything, as a kill does.
func (c *cluster) moveTo(name string) *Service {
	s := c.agent(name)
	c.mu.Lock()
	c.owner = name
	c.mu.Unlock()
	return s
}

func (c *cluster) setConfig(key, value string) {
	c.log.submit(context.Background(), journal.Command{AlterGroupConfigs: &journal.AlterGroupConfigs{Group: "g", Set: map[string]string{key: value}}})
}

func (c *cluster) topicID() [16]byte {
	var id [16]byte
	c.log.View(func(s *journal.State) { id = s.Topic("t").ID })
	return id
}

// consumer is one member's requests, with its share session at one agent.
type consumer struct {
	c  *cluster
	id string
	// closeConn ends the connection its share session was opened on.
	closeConn context.CancelFunc
	connCtx   context.Context
	epoch     int32 // share session epoch
	member    int32 // member epoch
}

func (c *cluster) consumer(id string) *consumer { return &consumer{c: c, id: id} }

// conn returns the consumer's connection, opening one if it has none.
func (m *consumer) conn() context.Context {
	if m.connCtx == nil || m.connCtx.Err() != nil {
		m.connCtx, m.closeConn = context.WithCancel(context.Background())
		m.c.t.Cleanup(m.closeConn)
	}
	return m.connCtx
}

func (m *consumer) heartbeat(s *Service, epoch int32) *kmsg.ShareGroupHeartbeatResponse {
	r := kmsg.NewPtrShareGroupHeartbeatRequest()
	r.Version = 1
	r.GroupID, r.MemberID, r.MemberEpoch = "g", m.id, epoch
	if epoch == 0 {
		r.SubscribedTopicNames = []string{"t"}
	}
	resp := s.Heartbeat(context.Background(), r, "client-"+m.id, "/127.0.0.1")
	if resp.ErrorCode == 0 {
		m.member = resp.MemberEpoch
	}
	return resp
}

type ack struct {
	partition   int32
	first, last int64
	types       []int8
}

func (a ack) batch() kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
	b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
	b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.first, a.last, a.types
	return b
}

// fetch sends a ShareFetch for the partitions (added to the session) with
// piggybacked acks, MaxWait 0.
func (m *consumer) fetch(s *Service, parts []int32, acks ...ack) *kmsg.ShareFetchResponse {
	m.c.t.Helper()
	r := kmsg.NewPtrShareFetchRequest()
	r.Version = 1
	g, id := "g", m.id
	r.GroupID, r.MemberID, r.ShareSessionEpoch = &g, &id, m.epoch
	r.MaxRecords, r.MaxBytes = 500, 1<<20
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = m.c.topicID()
	for _, p := range parts {
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	for _, a := range acks {
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.Partition = a.partition
		rp.AcknowledgementBatches = []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{a.batch()}
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
	resp := s.Fetch(context.Background(), r, m.conn())
	if resp.ErrorCode == 0 {
		m.epoch++
	}
	return resp
}

func (m *consumer) acknowledge(s *Service, acks ...ack) *kmsg.ShareAcknowledgeResponse {
	r := kmsg.NewPtrShareAcknowledgeRequest()
	r.Version = 1
	g, id := "g", m.id
	r.GroupID, r.MemberID, r.ShareSessionEpoch = &g, &id, m.epoch
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = m.c.topicID()
	for _, a := range acks {
		rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
		rp.Partition = a.partition
		rp.AcknowledgementBatches = []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{
			kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch(a.batch()),
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
	resp := s.Acknowledge(context.Background(), r)
	if resp.ErrorCode == 0 {
		m.epoch++
	}
	return resp
}

// acquired flattens a fetch response's acquired records of a partition:
// offset → delivery count.
func acquiredOf(resp *kmsg.ShareFetchResponse, partition int32) map[int64]int16 {
	out := map[int64]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition != partition {
				continue
			}
			for _, a := range p.AcquiredRecords {
				for off := a.FirstOffset; off <= a.LastOffset; off++ {
					out[off] = a.DeliveryCount
				}
			}
		}
	}
	return out
}

// partitionCodes returns each partition's error and acknowledgement codes.
func partitionCodes(resp *kmsg.ShareFetchResponse) map[int32][2]int16 {
	out := map[int32][2]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = [2]int16{p.ErrorCode, p.AcknowledgeErrorCode}
		}
	}
	return out
}

func codeErr(code int16) error { return kerr.ErrorForCode(code) }

func offsetsReq() kmsg.DescribeShareGroupOffsetsRequestGroup {
	g := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	g.GroupID = "g"
	return g
}
