package agent

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/console"
	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// consoleSource is the web console's view of the agent (package console).
// It is deliberately thin: it reads the replayed journal state, the
// membership and the metrics registry, and asks everything else —
// reading records, listing and describing groups — through the same
// Kafka API handlers a client reaches (ask), so the console shows what
// kadm would and moves with the handlers, not with their internals.
type consoleSource struct {
	a       *Agent
	started time.Time
}

var _ console.Source = consoleSource{}

// view runs fn on the journal state once the agent is ready.
func (s consoleSource) view(fn func(st *journal.State)) error {
	if !s.a.ready.Load() {
		return console.ErrNotReady
	}
	s.a.journal.View(fn)
	return nil
}

// ask serves a Kafka request through the agent's API table, as if a client
// had sent it on a connection, at version (0: the highest served), as the
// principal the HTTP guard let in (http_auth.go).
func (s consoleSource) ask(ctx context.Context, body kmsg.Request, version int16) kmsg.Response {
	api := apiByKey[body.Key()]
	if version == 0 {
		version = api.maxVersion
	}
	body.SetVersion(version)
	c := &conn{a: s.a, ctx: ctx, log: s.a.log, principal: principalOf(ctx)}
	rep := api.handle(c, &request{key: body.Key(), version: version, body: body, received: time.Now()})
	if rep.resp != nil {
		return rep.resp
	}
	return rep.wait(ctx)
}

func (s consoleSource) agents() []console.Agent {
	members := s.a.cluster.members()
	committer, compactor := s.a.commit.Committer().Name, owner(members, compactorKey).Name
	out := make([]console.Agent, 0, len(members))
	for _, m := range members {
		out = append(out, consoleAgent(m, committer, compactor))
	}
	return out
}

func consoleAgent(m gossip.Member, committer, compactor string) console.Agent {
	return console.Agent{Name: m.Name, NodeID: m.NodeID, Zone: m.Zone, KafkaAddr: m.KafkaAddr, InternalAddr: m.InternalAddr,
		Committer: m.Name == committer, Compactor: m.Name == compactor}
}

func (s consoleSource) Cluster() (console.Cluster, error) {
	c := console.Cluster{Self: s.a.cfg.NodeName}
	err := s.view(func(st *journal.State) {
		c.ClusterID, c.JournalSeq, c.JournalTime = st.ClusterID, st.Seq, time.UnixMilli(st.Time).UTC()
	})
	if err != nil {
		return c, err
	}
	c.Members = s.agents()
	return c, nil
}

func (s consoleSource) Status() (console.AgentStatus, error) {
	if !s.a.ready.Load() {
		return console.AgentStatus{}, console.ErrNotReady
	}
	seq := s.a.journal.Seq()
	return console.AgentStatus{Name: s.a.cfg.NodeName, Started: s.started, Ready: true, JournalSeq: seq,
		JournalKnown: max(seq, s.a.commit.KnownSeq()), Compaction: s.a.cfg.Compaction,
		CompactorActivity: s.a.compactorLog.list()}, nil
}

// compactorLog keeps the compactor's last pieces of work for the console
// (compaction.Options.Progress reports them). Safe for concurrent use.
type compactorLog struct {
	mu     sync.Mutex
	recent []console.Activity // newest last, at most compactorLogSize
}

const compactorLogSize = 20

func (l *compactorLog) add(p compaction.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent = append(l.recent, console.Activity{Time: time.Now().UTC(), Stage: p.Stage, Topic: p.Topic, Records: p.Records, Bytes: p.Bytes})
	if len(l.recent) > compactorLogSize {
		l.recent = append(l.recent[:0], l.recent[len(l.recent)-compactorLogSize:]...)
	}
}

// list returns the work, newest first.
func (l *compactorLog) list() []console.Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]console.Activity, 0, len(l.recent))
	for i := len(l.recent) - 1; i >= 0; i-- {
		out = append(out, l.recent[i])
	}
	return out
}

// topicSummary reads a topic's summary under the state lock.
func (s consoleSource) topicSummary(t *journal.Topic) console.Topic {
	v := console.Topic{Name: t.Name, ID: t.ID.String(), Partitions: len(t.Partitions),
		CleanupPolicy: s.a.topicConfigValue(t.Configs, "cleanup.policy")}
	v.RetentionMs, _ = strconv.ParseInt(s.a.topicConfigValue(t.Configs, "retention.ms"), 10, 64)
	v.RetentionBytes, _ = strconv.ParseInt(s.a.topicConfigValue(t.Configs, "retention.bytes"), 10, 64)
	for _, p := range t.Partitions {
		v.Records += p.NextOffset - p.StartOffset
		v.End += p.NextOffset
		v.Bytes += p.Bytes()
		v.Chunks += len(p.Chunks)
	}
	return v
}

func (s consoleSource) Topics() ([]console.Topic, error) {
	var out []console.Topic
	err := s.view(func(st *journal.State) {
		out = make([]console.Topic, 0, len(st.Topics))
		for _, name := range st.TopicNames() {
			out = append(out, s.topicSummary(st.Topics[name]))
		}
	})
	return out, err
}

func (s consoleSource) Topic(name string) (console.TopicDetail, error) {
	var (
		d     console.TopicDetail
		found bool
	)
	members := s.a.cluster.members()
	err := s.view(func(st *journal.State) {
		t := st.Topic(name)
		if t == nil {
			return
		}
		found = true
		d.Topic, d.Configs = s.topicSummary(t), map[string]string{}
		for k, v := range t.Configs {
			d.Configs[k] = v
		}
		for i, p := range t.Partitions {
			leader := owner(members, partitionKey(name, int32(i)))
			objects := map[string]bool{}
			for j := range p.Chunks {
				objects[p.Chunks[j].Object] = true
			}
			pr := st.Progress(t.ID, int32(i))
			cp := console.Partition{Partition: int32(i), StartOffset: p.StartOffset, EndOffset: p.NextOffset, Bytes: p.Bytes(),
				Chunks: len(p.Chunks), Objects: len(objects), Leader: leader.Name, LeaderID: leader.NodeID, Exported: pr.Exported}
			if pr.ExportTime > 0 {
				cp.ExportTime = time.UnixMilli(pr.ExportTime).UTC()
			}
			d.PartitionDetail = append(d.PartitionDetail, cp)
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("topic %q does not exist: %w", name, console.ErrUnknownTopic)
	}
	return d, err
}

func (s consoleSource) GroupOffsets() ([]console.GroupOffset, error) {
	var out []console.GroupOffset
	err := s.view(func(st *journal.State) {
		for group, topics := range st.Groups {
			for topic, parts := range topics {
				for p, off := range parts {
					o := console.GroupOffset{Group: group, Topic: topic, Partition: p, Committed: off.Offset, End: -1,
						CommitTime: time.UnixMilli(off.CommitTime).UTC()}
					if part := st.Partition(topic, p); part != nil {
						o.End, o.Lag = part.NextOffset, max(part.NextOffset-off.Offset, 0)
					}
					out = append(out, o)
				}
			}
		}
	})
	slices.SortFunc(out, func(x, y console.GroupOffset) int {
		if x.Group != y.Group {
			return cmpStr(x.Group, y.Group)
		}
		if x.Topic != y.Topic {
			return cmpStr(x.Topic, y.Topic)
		}
		return int(x.Partition - y.Partition)
	})
	return out, err
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s consoleSource) LocalGroups() ([]console.GroupSummary, error) {
	if !s.a.ready.Load() {
		return nil, console.ErrNotReady
	}
	ctx, cancel := context.WithTimeout(s.a.ctx, 5*time.Second)
	defer cancel()
	resp := s.ask(ctx, kmsg.NewPtrListGroupsRequest(), 0).(*kmsg.ListGroupsResponse)
	out := []console.GroupSummary{}
	for _, g := range resp.Groups {
		m, ok, err := s.LocalGroup(g.Group)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, m.GroupSummary)
	}
	return out, nil
}

func (s consoleSource) LocalGroup(name string) (console.GroupMembers, bool, error) {
	var g console.GroupMembers
	if !s.a.ready.Load() {
		return g, false, console.ErrNotReady
	}
	if !s.a.ownsGroup(name) {
		return g, false, nil
	}
	ctx, cancel := context.WithTimeout(s.a.ctx, 5*time.Second)
	defer cancel()
	cd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cd.Groups = []string{name}
	if r := s.ask(ctx, cd, 0).(*kmsg.ConsumerGroupDescribeResponse); len(r.Groups) == 1 && r.Groups[0].ErrorCode == 0 {
		dg := r.Groups[0]
		g.GroupSummary = console.GroupSummary{Name: name, State: dg.State, Type: "consumer", ProtocolType: "consumer", Members: len(dg.Members)}
		g.Protocol, g.Epoch = dg.AssignorName, dg.Epoch
		for _, m := range dg.Members {
			cm := console.Member{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, ClientHost: m.ClientHost}
			for _, tp := range m.Assignment.TopicPartitions {
				cm.Assignment = append(cm.Assignment, console.TopicPartitions{Topic: tp.Topic, Partitions: tp.Partitions})
			}
			g.Members = append(g.Members, cm)
		}
		return g, true, nil
	}
	dr := kmsg.NewPtrDescribeGroupsRequest()
	dr.Groups = []string{name}
	r := s.ask(ctx, dr, 0).(*kmsg.DescribeGroupsResponse)
	// "Dead" is Kafka's state of a group that does not exist.
	if len(r.Groups) != 1 || r.Groups[0].ErrorCode != 0 || r.Groups[0].State == "Dead" {
		return g, false, nil
	}
	dg := r.Groups[0]
	g.GroupSummary = console.GroupSummary{Name: name, State: dg.State, Type: "classic", ProtocolType: dg.ProtocolType, Members: len(dg.Members)}
	g.Protocol = dg.Protocol
	for _, m := range dg.Members {
		cm := console.Member{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, ClientHost: m.ClientHost}
		var a kmsg.ConsumerMemberAssignment
		if dg.ProtocolType == "consumer" && a.ReadFrom(m.MemberAssignment) == nil {
			for _, tp := range a.Topics {
				cm.Assignment = append(cm.Assignment, console.TopicPartitions{Topic: tp.Topic, Partitions: tp.Partitions})
			}
		}
		g.Members = append(g.Members, cm)
	}
	return g, true, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s consoleSource) GroupCoordinator(name string) (console.Agent, error) {
	if !s.a.ready.Load() {
		return console.Agent{}, console.ErrNotReady
	}
	members := s.a.cluster.members()
	return consoleAgent(owner(members, "group/"+name), s.a.commit.Committer().Name, owner(members, compactorKey).Name), nil
}

// Read serves the record browser through the Fetch handler (and
// ListOffsets for a time), so it reads exactly what a consumer would.
func (s consoleSource) Read(ctx context.Context, r console.ReadRequest) (console.ReadResult, error) {
	var res console.ReadResult
	if !s.a.ready.Load() {
		return res, console.ErrNotReady
	}
	from := r.Offset
	if r.Timestamp != nil {
		lo := kmsg.NewPtrListOffsetsRequest()
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = r.Topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = r.Partition, *r.Timestamp
		lt.Partitions = append(lt.Partitions, lp)
		lo.Topics = append(lo.Topics, lt)
		sp := s.ask(ctx, lo, 0).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if err := readError(sp.ErrorCode, r, r.Offset, 0, 0); err != nil {
			return res, err
		}
		if sp.Offset < 0 {
			// No record that late: the read is at the log's end.
			err := s.view(func(st *journal.State) {
				if p := st.Partition(r.Topic, r.Partition); p != nil {
					res.StartOffset, res.EndOffset, res.From = p.StartOffset, p.NextOffset, p.NextOffset
				}
			})
			return res, err
		}
		from = sp.Offset
	}
	f := kmsg.NewPtrFetchRequest()
	f.MaxBytes, f.MinBytes, f.MaxWaitMillis = int32(r.MaxBytes), 0, 0
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = r.Topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = r.Partition, from, int32(r.MaxBytes)
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	// v12, the last to name topics rather than give their ids.
	fr, ok := asFetchResponse(s.ask(ctx, f, 12))
	if !ok {
		return res, fmt.Errorf("read %s/%d: the fetch answered no Fetch response", r.Topic, r.Partition)
	}
	sp := fr.Topics[0].Partitions[0]
	res.StartOffset, res.EndOffset = sp.LogStartOffset, sp.HighWatermark
	res.From = from
	if err := readError(sp.ErrorCode, r, from, sp.LogStartOffset, sp.HighWatermark); err != nil {
		return res, err
	}
	for b, err := range recordbatch.IterateFetch(sp.RecordBatches) {
		if err != nil {
			return res, fmt.Errorf("read %s/%d: %w", r.Topic, r.Partition, err)
		}
		recs, err := recordbatch.Records(b.Bytes, 64<<20)
		if err != nil {
			return res, fmt.Errorf("read %s/%d at %d: %w", r.Topic, r.Partition, b.BaseOffset, err)
		}
		for _, rec := range recs {
			if rec.Offset < from {
				continue
			}
			cr := console.Record{Offset: rec.Offset, Timestamp: rec.Timestamp, Key: rec.Key, Value: rec.Value}
			for _, h := range rec.Headers {
				cr.Headers = append(cr.Headers, console.Header{Key: h.Key, Value: h.Value})
			}
			res.Records = append(res.Records, cr)
			if len(res.Records) >= r.MaxRecords {
				return res, nil
			}
		}
	}
	return res, nil
}

// readError turns a partition's Kafka error code into the console's.
func readError(code int16, r console.ReadRequest, offset, start, end int64) error {
	switch code {
	case 0:
		return nil
	case kerr.UnknownTopicOrPartition.Code:
		return fmt.Errorf("topic %q has no partition %d: %w", r.Topic, r.Partition, console.ErrUnknownTopic)
	case kerr.OffsetOutOfRange.Code:
		return &console.OffsetError{Offset: offset, Start: start, End: end}
	}
	return fmt.Errorf("read %s/%d: %w", r.Topic, r.Partition, kerr.ErrorForCode(code))
}

func (s consoleSource) Objects(ctx context.Context) iter.Seq2[console.Object, error] {
	return func(yield func(console.Object, error) bool) {
		for o, err := range s.a.bucket.List(ctx, "", "") {
			if !yield(console.Object{Key: o.Key, Size: o.Size}, err) || err != nil {
				return
			}
		}
	}
}

func (s consoleSource) Storage() (console.Storage, error) {
	var st console.Storage
	err := s.view(func(js *journal.State) {
		st.ReferencedObjects, st.Garbage = len(js.Referenced()), len(js.Garbage)
		var last int64
		for _, parts := range js.Compaction {
			for _, p := range parts {
				st.ExportedOffsets += p.Exported
				last = max(last, p.ExportTime)
				if p.Cleaned > 0 {
					st.CleanedPartitions++
				}
			}
		}
		if last > 0 {
			st.LastExport = time.UnixMilli(last).UTC()
		}
	})
	st.Compactor = owner(s.a.cluster.members(), compactorKey).Name
	return st, err
}

func (s consoleSource) Counters() (console.Counters, error) {
	if !s.a.ready.Load() {
		return console.Counters{}, console.ErrNotReady
	}
	return console.GatherCounters(s.a.registry)
}
