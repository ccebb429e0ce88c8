package console

import (
	"context"
	"iter"
	"sort"
	"sync"
	"time"
)

// fakeSource is a Source over fixed data, for the handler tests. The
// console's proof against a real agent is agent/console_source_test.go and
// the browser test in console/browsertest.
type fakeSource struct {
	mu       sync.Mutex
	notReady bool
	cluster  Cluster
	status   AgentStatus
	topics   map[string]TopicDetail
	records  map[string][]Record // "topic/partition"
	offsets  []GroupOffset
	groups   map[string]GroupMembers // coordinated here
	coord    map[string]string       // group → coordinator name
	objects  []Object
	storage  Storage
	counters Counters
}

func (f *fakeSource) ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notReady {
		return ErrNotReady
	}
	return nil
}

func (f *fakeSource) Cluster() (Cluster, error)    { return f.cluster, f.ready() }
func (f *fakeSource) Status() (AgentStatus, error) { return f.status, f.ready() }

func (f *fakeSource) Topics() ([]Topic, error) {
	var out []Topic
	for _, t := range f.topics {
		out = append(out, t.Topic)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, f.ready()
}

func (f *fakeSource) Topic(name string) (TopicDetail, error) {
	t, ok := f.topics[name]
	if !ok {
		return t, ErrUnknownTopic
	}
	return t, f.ready()
}

func (f *fakeSource) GroupOffsets() ([]GroupOffset, error) { return f.offsets, f.ready() }

func (f *fakeSource) LocalGroups() ([]GroupSummary, error) {
	out := []GroupSummary{}
	for _, g := range f.groups {
		out = append(out, g.GroupSummary)
	}
	return out, f.ready()
}

func (f *fakeSource) LocalGroup(name string) (GroupMembers, bool, error) {
	g, ok := f.groups[name]
	return g, ok, f.ready()
}

func (f *fakeSource) GroupCoordinator(name string) (Agent, error) {
	for _, m := range f.cluster.Members {
		if m.Name == f.coord[name] {
			return m, nil
		}
	}
	return f.cluster.Members[0], f.ready()
}

func (f *fakeSource) Read(ctx context.Context, r ReadRequest) (ReadResult, error) {
	t, ok := f.topics[r.Topic]
	if !ok || int(r.Partition) >= len(t.PartitionDetail) {
		return ReadResult{}, ErrUnknownTopic
	}
	p := t.PartitionDetail[r.Partition]
	res := ReadResult{StartOffset: p.StartOffset, EndOffset: p.EndOffset, From: r.Offset}
	recs := f.records[r.Topic+"/"+string(rune('0'+r.Partition))]
	if r.Timestamp != nil {
		res.From = p.EndOffset
		for _, rec := range recs {
			if rec.Timestamp >= *r.Timestamp {
				res.From = rec.Offset
				break
			}
		}
	}
	if res.From < p.StartOffset || res.From > p.EndOffset {
		return res, &OffsetError{Offset: res.From, Start: p.StartOffset, End: p.EndOffset}
	}
	for _, rec := range recs {
		if rec.Offset >= res.From && len(res.Records) < r.MaxRecords {
			res.Records = append(res.Records, rec)
		}
	}
	return res, nil
}

func (f *fakeSource) Objects(ctx context.Context) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		for _, o := range f.objects {
			if !yield(o, nil) {
				return
			}
		}
	}
}

func (f *fakeSource) Storage() (Storage, error) { return f.storage, f.ready() }

func (f *fakeSource) Counters() (Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.counters
	c.Requests = map[string]float64{}
	for k, v := range f.counters.Requests {
		c.Requests[k] = v
	}
	return c, nil
}

// newFake returns a source of one agent named self with two topics, a
// group and some objects.
func newFake(self string) *fakeSource {
	started := time.Now().Add(-90 * time.Second)
	f := &fakeSource{
		cluster: Cluster{ClusterID: "c1", Self: self, JournalSeq: 42,
			Members: []Agent{{Name: self, NodeID: 7, KafkaAddr: "127.0.0.1:9092", Committer: true, Compactor: true}}},
		status: AgentStatus{Name: self, Started: started, Ready: true, JournalSeq: 42, JournalKnown: 42,
			CompactorActivity: []Activity{{Time: started, Stage: "merge", Topic: "orders", Records: 4, Bytes: 800}}},
		topics: map[string]TopicDetail{
			"orders": {Topic: Topic{Name: "orders", ID: "id-orders", Partitions: 2, Records: 5, End: 5, Bytes: 1000, Chunks: 2,
				RetentionMs: 604800000, RetentionBytes: -1, CleanupPolicy: "delete"},
				Configs: map[string]string{"retention.ms": "604800000"},
				PartitionDetail: []Partition{
					{Partition: 0, StartOffset: 0, EndOffset: 4, Bytes: 800, Chunks: 1, Objects: 1, Leader: self},
					{Partition: 1, StartOffset: 0, EndOffset: 1, Bytes: 200, Chunks: 1, Objects: 1, Leader: self},
				}},
			"clicks": {Topic: Topic{Name: "clicks", Partitions: 1, CleanupPolicy: "compact", RetentionMs: -1, RetentionBytes: -1},
				PartitionDetail: []Partition{{Partition: 0, Leader: self}}},
		},
		records: map[string][]Record{"orders/0": {
			{Offset: 0, Timestamp: 1000, Key: []byte("k0"), Value: []byte("hello")},
			{Offset: 1, Timestamp: 2000, Key: nil, Value: []byte{0xff, 0xfe, 0x00}},
			{Offset: 2, Timestamp: 3000, Key: []byte("k2"), Value: nil, Headers: []Header{{Key: "h", Value: []byte("v")}}},
			{Offset: 3, Timestamp: 4000, Key: []byte("k3"), Value: []byte("<script>alert(1)</script>")},
		}},
		offsets: []GroupOffset{
			{Group: "billing", Topic: "orders", Partition: 0, Committed: 1, End: 4, Lag: 3},
			{Group: "billing", Topic: "orders", Partition: 1, Committed: 1, End: 1, Lag: 0},
		},
		groups: map[string]GroupMembers{"billing": {
			GroupSummary: GroupSummary{Name: "billing", State: "Stable", Type: "classic", ProtocolType: "consumer", Members: 1},
			Protocol:     "range",
			Members: []Member{{ID: "m-1", ClientID: "billing-app", ClientHost: "127.0.0.1",
				Assignment: []TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1}}}}},
		}},
		coord: map[string]string{"billing": self},
		objects: []Object{
			{Key: "journal/00000000000000000001", Size: 100},
			{Key: "journal/00000000000000000002", Size: 50},
			{Key: "segments/ab/x.seg", Size: 4000},
			{Key: "export/orders/dt=2026-01-01/hour=00/part-0-0-3.parquet", Size: 700},
			{Key: "stray", Size: 1},
		},
		storage:  Storage{ReferencedObjects: 1, Garbage: 0, Compactor: self},
		counters: Counters{Requests: map[string]float64{"PUT": 10, "GET": 20}},
	}
	return f
}
