package sharegroups

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Journal is the agent's replayed journal, as share groups read it.
type Journal interface {
	// View calls fn with the state; fn must not keep it or block.
	View(fn func(*journal.State))
	// Changed returns a channel closed when the next entry is applied.
	Changed() <-chan struct{}
}

// Env is everything share groups need of their agent. All fields are
// required but Logger, Clock and Registerer.
type Env struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// NodeName is the agent's name, written into its claims.
	NodeName string
	Journal  Journal
	// Submit proposes commands to the journal and returns their results
	// once applied here, or a Kafka error code.
	Submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16)
	// OwnsGroup reports whether this agent coordinates the group.
	OwnsGroup func(group string) bool
	// OwnsPartition reports whether this agent serves the partition (its
	// rendezvous-hash owner, the leader Metadata names), and so its
	// share-partitions.
	OwnsPartition func(topic string, partition int32) bool
	// Read returns whole committed record batches of a partition from the
	// batch holding offset from, about maxBytes of them (at least one
	// batch), through the agent's fetch path.
	Read func(ctx context.Context, topic string, partition int32, from int64, maxBytes int) ([]byte, int16)
	// Registerer, if set, receives the per-group metrics.
	Registerer prometheus.Registerer
	// CommitTimeout bounds one journal write.
	CommitTimeout time.Duration
	// Claim, if set, makes the groups' membership durable (store.go): it
	// returns this agent's claim on a group, claiming it if it must.
	Claim func(ctx context.Context, group string) (journal.GroupClaim, int16)
	// CatchUp, if set, applies the journal entries not applied yet; a
	// coordinator calls it before resuming a group that moved to it.
	CatchUp func(ctx context.Context) error
}

// Service is the share groups of one agent: the membership of the groups
// it coordinates, the share sessions of the consumers that fetch from it,
// and the share-partitions it owns.
type Service struct {
	env   Env
	log   *slog.Logger
	clock clock.Clock
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu struct {
		sync.Mutex
		parts    map[spKey]*hosted
		loading  map[spKey]chan struct{} // closed when the load ends
		groups   map[string]*sgroup
		sessions map[sessionKey]*session
		// released is closed and replaced whenever records become
		// available again, waking waiting fetches.
		released chan struct{}
		// retired sums, per group, the counts of share-partitions no
		// longer in memory, so the metrics' counters never go down.
		retired map[string]tally
		closed  bool
	}
	metrics *metrics
}

// spKey names a share-partition.
type spKey struct {
	group, topic string
	partition    int32
}

// New returns a service with nothing in memory.
func New(env Env) *Service {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	if env.CommitTimeout <= 0 {
		env.CommitTimeout = 10 * time.Second
	}
	s := &Service{env: env, log: env.Logger, clock: env.Clock}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.mu.parts = map[spKey]*hosted{}
	s.mu.loading = map[spKey]chan struct{}{}
	s.mu.groups = map[string]*sgroup{}
	s.mu.sessions = map[sessionKey]*session{}
	s.mu.released = make(chan struct{})
	s.mu.retired = map[string]tally{}
	s.metrics = newMetrics(s, env.Registerer)
	return s
}

// Close stops the timers and waits for the writes in flight (a few
// seconds at most). It is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return
	}
	s.mu.closed = true
	parts := s.mu.parts
	s.mu.parts = map[spKey]*hosted{}
	groups := s.mu.groups
	s.mu.Unlock()
	for _, h := range parts {
		h.drop()
	}
	for _, g := range groups {
		s.mu.Lock()
		g.stopTimers()
		s.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	s.stop()
	<-done
}

// MembershipChanged lets go of the share-partitions and groups this agent
// no longer owns; their new owners load them from the journal.
func (s *Service) MembershipChanged() {
	s.mu.Lock()
	var dropped []*hosted
	for k, h := range s.mu.parts {
		if !s.env.OwnsPartition(k.topic, k.partition) {
			dropped = append(dropped, h)
			delete(s.mu.parts, k)
		}
	}
	for name, g := range s.mu.groups {
		if !s.env.OwnsGroup(name) {
			g.stopTimers()
			delete(s.mu.groups, name)
		}
	}
	s.mu.Unlock()
	for _, h := range dropped {
		h.drop()
	}
}

// retire keeps the counts of a share-partition leaving memory.
func (s *Service) retire(group string, t tally) {
	s.mu.Lock()
	r := s.mu.retired[group]
	r.acquired += t.acquired
	r.redelivered += t.redelivered
	r.archived += t.archived
	s.mu.retired[group] = r
	s.mu.Unlock()
}

// wake wakes the fetches waiting for records.
func (s *Service) wake() {
	s.mu.Lock()
	close(s.mu.released)
	s.mu.released = make(chan struct{})
	s.mu.Unlock()
}

func (s *Service) releasedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.released
}

func (s *Service) settings(group string) settings {
	var st settings
	s.env.Journal.View(func(js *journal.State) { st = settingsOf(js, group) })
	return st
}

// partition returns the share-partition this agent owns, claiming it and
// loading its state from the journal if it is not in memory or another
// agent has claimed it since. Concurrent callers share one load.
func (s *Service) partition(ctx context.Context, k spKey) (*hosted, int16) {
	for {
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			return nil, kerr.NotLeaderForPartition.Code
		}
		h := s.mu.parts[k]
		if h != nil && s.claimCurrent(k, h.claimed()) {
			s.mu.Unlock()
			return h, 0
		}
		if wait := s.mu.loading[k]; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, kerr.RequestTimedOut.Code
			}
		}
		if h != nil {
			delete(s.mu.parts, k)
		}
		done := make(chan struct{})
		s.mu.loading[k] = done
		s.mu.Unlock()
		if h != nil {
			s.log.Info("another agent claimed the share-partition; reloading", "group", k.group, "topic", k.topic, "partition", k.partition)
			h.drop()
		}
		h, code := s.load(ctx, k)
		s.mu.Lock()
		delete(s.mu.loading, k)
		if h != nil {
			s.mu.parts[k] = h
		}
		close(done)
		s.mu.Unlock()
		return h, code
	}
}

// claimCurrent reports whether claim is the share-partition's latest.
func (s *Service) claimCurrent(k spKey, claim journal.GroupClaim) bool {
	ok := false
	s.env.Journal.View(func(js *journal.State) {
		st := js.Share(k.group, k.topic, k.partition)
		ok = st != nil && st.Claim == claim
	})
	return ok
}

func (s *Service) load(ctx context.Context, k spKey) (*hosted, int16) {
	set := s.settings(k.group)
	ctx, cancel := context.WithTimeout(ctx, s.env.CommitTimeout)
	defer cancel()
	res, code := s.env.Submit(ctx, journal.Command{ClaimShare: &journal.ClaimShare{
		Group: k.group, Topic: k.topic, Partition: k.partition, Owner: s.env.NodeName, Reset: set.reset,
	}})
	if code == 0 {
		code = res[0].Code
	}
	if code != 0 {
		return nil, code
	}
	claim := *res[0].Claim
	var st *journal.ShareState
	s.env.Journal.View(func(js *journal.State) {
		if cur := js.Share(k.group, k.topic, k.partition); cur != nil && cur.Claim == claim {
			cp := *cur
			st = &cp
		}
	})
	if st == nil {
		return nil, kerr.NotLeaderForPartition.Code // claimed again at once by another agent
	}
	h := &hosted{s: s, key: k, claim: claim, w: load(st)}
	s.log.Info("share-partition loaded", "group", k.group, "topic", k.topic, "partition", k.partition,
		"start", h.w.start, "end", h.w.end)
	h.mu.Lock()
	h.armLocked()
	h.mu.Unlock()
	return h, 0
}
