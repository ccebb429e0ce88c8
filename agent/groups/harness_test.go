package groups

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/internal/memjournal"
	"github.com/silt-io/silt/journal"
)

// The coordinator's tests run without sockets or a bucket: coordinators
// (one per pretend agent) share a journal kept in memory, time is a fake
// clock, and ownership is whatever the test says.

// memJournal is the journal in memory, applying what is submitted at
// once, as a one-agent journal would.
type memJournal struct {
	*memjournal.Journal
}

func newMemJournal(c *clock.Fake) *memJournal { return &memJournal{memjournal.New(c)} }

func (j *memJournal) submit(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16) {
	return j.Submit(ctx, cmds...)
}

func (j *memJournal) setDown(down bool) { j.SetDown(down) }

// cluster is coordinators on one journal; owner names the agent gossip
// makes every group's coordinator.
type cluster struct {
	t       *testing.T
	clock   *clock.Fake
	journal *memJournal
	mu      sync.Mutex
	owner   string
	coords  map[string]*Coordinator
	cancel  context.CancelFunc
	ctx     context.Context
}

func newCluster(t *testing.T, topics map[string]int32) *cluster {
	c := &cluster{t: t, clock: clock.NewFake(time.Unix(1_700_000_000, 0)), coords: map[string]*Coordinator{}}
	c.journal = newMemJournal(c.clock)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() {
		c.cancel()
		for _, co := range c.coords {
			co.Close()
		}
	})
	for name, n := range topics {
		c.journal.submit(c.ctx, journal.Command{CreateTopic: &journal.CreateTopic{Name: name, Partitions: n}})
	}
	return c
}

// agent returns the coordinator of the named agent, starting it.
func (c *cluster) agent(name string) *Coordinator {
	c.mu.Lock()
	defer c.mu.Unlock()
	if co := c.coords[name]; co != nil {
		return co
	}
	co := New(Env{
		Clock: c.clock, NodeName: name, Journal: c.journal, Submit: c.journal.submit,
		Owns:   func(string) bool { c.mu.Lock(); defer c.mu.Unlock(); return c.owner == name },
		Config: Config{InitialRebalanceDelay: initialDelay, OffsetsRetention: 7 * 24 * time.Hour, CommitTimeout: 5 * time.Second},
	})
	c.coords[name] = co
	if c.owner == "" {
		c.owner = name
	}
	go co.watchClaims(c.ctx)
	return co
}

// moveTo makes gossip name another agent every group's coordinator, as a
// kill or a restart does: the old one lets its groups go.
func (c *cluster) moveTo(name string) *Coordinator {
	co := c.agent(name)
	c.mu.Lock()
	c.owner = name
	others := make([]*Coordinator, 0, len(c.coords))
	for n, o := range c.coords {
		if n != name {
			others = append(others, o)
		}
	}
	c.mu.Unlock()
	for _, o := range others {
		o.MembershipChanged()
	}
	return co
}

// initialDelay is Kafka's default group.initial.rebalance.delay.ms.
const initialDelay = 3 * time.Second

// advance moves the clock and waits for every group to have handled the
// timers that fired.
func (c *cluster) advance(d time.Duration) {
	c.clock.Advance(d)
	c.settle()
}

func (c *cluster) settle() {
	c.mu.Lock()
	coords := make([]*Coordinator, 0, len(c.coords))
	for _, co := range c.coords {
		coords = append(coords, co)
	}
	c.mu.Unlock()
	for _, co := range coords {
		for _, g := range co.all() {
			g.do(func() {})
		}
	}
}

func (c *cluster) stored(group string) *journal.GroupMeta {
	var m *journal.GroupMeta
	c.journal.View(func(s *journal.State) { m = s.GroupMeta[group] })
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// classic builds the requests of a classic-protocol member.
type classic struct {
	group, memberID string
	instance        *string
	generation      int32
}

func (m *classic) joinReq() *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group, r.MemberID, r.InstanceID = m.group, m.memberID, m.instance
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10_000, 30_000
	r.ProtocolType = "consumer"
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("meta-" + m.group)}}
	return r
}

// startJoin sends a JoinGroup that may wait for the others, as Join does,
// and returns once the group has taken it; the channel receives its
// response.
func (m *classic) startJoin(t *testing.T, co *Coordinator) <-chan *kmsg.JoinGroupResponse {
	t.Helper()
	var ch chan *kmsg.JoinGroupResponse
	r := m.joinReq()
	if _, code := co.doGroup(ctxT(t), m.group, true, func(g *group) { ch = g.join(r, "client", "/127.0.0.1") }); code != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(code))
	}
	return ch
}

// joined takes a join response and remembers the member id and generation.
func (m *classic) joined(t *testing.T, ch <-chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case resp := <-ch:
		if resp.ErrorCode == 0 || resp.ErrorCode == kerr.MemberIDRequired.Code {
			m.memberID = resp.MemberID
		}
		if resp.ErrorCode == 0 {
			m.generation = resp.Generation
		}
		return resp
	case <-time.After(10 * time.Second):
		t.Fatal("JoinGroup never answered")
		return nil
	}
}

// join joins through KIP-394's two steps (or one, for a static member)
// without waiting for a join phase: the caller completes it.
func (m *classic) join(t *testing.T, co *Coordinator) <-chan *kmsg.JoinGroupResponse {
	t.Helper()
	if m.memberID == "" && m.instance == nil {
		if resp := m.joined(t, m.startJoin(t, co)); resp.ErrorCode != kerr.MemberIDRequired.Code {
			t.Fatalf("first join: %v, want MEMBER_ID_REQUIRED", kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	return m.startJoin(t, co)
}

func (m *classic) sync(t *testing.T, co *Coordinator, assignments map[*classic][]byte) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.InstanceID, r.Generation = m.group, m.memberID, m.instance, m.generation
	for other, a := range assignments {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: other.memberID, MemberAssignment: a})
	}
	return co.Sync(ctxT(t), r)
}

// startSync sends a SyncGroup that waits for the leader's.
func (m *classic) startSync(t *testing.T, co *Coordinator) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- m.sync(t, co, nil) }()
	return ch
}

func (m *classic) heartbeat(t *testing.T, co *Coordinator) error {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.InstanceID, r.Generation = m.group, m.memberID, m.instance, m.generation
	return kerr.ErrorForCode(co.Heartbeat(ctxT(t), r))
}

func commit(t *testing.T, co *Coordinator, group, memberID string, instance *string, generation int32, offset int64) error {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.InstanceID, r.Generation = group, memberID, instance, generation
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	resp := co.CommitOffsets(ctxT(t), r)
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

func (m *classic) commit(t *testing.T, co *Coordinator, offset int64) error {
	return commit(t, co, m.group, m.memberID, m.instance, m.generation, offset)
}

// stableClassicGroup forms a group of n members at co, the first the
// leader, each assigned "a<i>".
func stableClassicGroup(t *testing.T, co *Coordinator, group string, members ...*classic) {
	t.Helper()
	var joins []<-chan *kmsg.JoinGroupResponse
	for _, m := range members {
		m.group = group
		joins = append(joins, m.join(t, co))
	}
	co.env.Clock.(*clock.Fake).Advance(initialDelay)
	var leader *classic
	for i, m := range members {
		resp := m.joined(t, joins[i])
		if resp.ErrorCode != 0 {
			t.Fatalf("join: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		if resp.LeaderID == m.memberID {
			leader = m
		}
	}
	assign := map[*classic][]byte{}
	var syncs []<-chan *kmsg.SyncGroupResponse
	for i, m := range members {
		assign[m] = []byte{'a', byte('0' + i)}
		if m != leader {
			syncs = append(syncs, m.startSync(t, co))
		}
	}
	if resp := leader.sync(t, co, assign); resp.ErrorCode != 0 {
		t.Fatalf("leader's sync: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, ch := range syncs {
		if resp := <-ch; resp.ErrorCode != 0 {
			t.Fatalf("sync: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
	}
}

// stateOf returns a group's state and generation as its coordinator
// holds them.
func stateOf(t *testing.T, co *Coordinator, name string) (groupState, int32) {
	t.Helper()
	g := co.lookup(name)
	if g == nil {
		t.Fatalf("group %s is not in memory", name)
	}
	var st groupState
	var gen int32
	g.do(func() { st, gen = g.state, g.generation })
	return st, gen
}

// eventually waits for cond, which a store beside the group goroutine
// makes true, failing with format and what() if it never does.
func eventually(t *testing.T, cond func() bool, format string, what func() any) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf(format, what())
			return
		}
	}
}

func errIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
