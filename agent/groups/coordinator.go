package groups

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Journal is the agent's replayed journal, as the coordinator reads it.
type Journal interface {
	// View calls fn with the state; fn must not keep it or block.
	View(fn func(*journal.State))
	// Changed returns a channel closed when the next entry is applied.
	Changed() <-chan struct{}
	// CatchUp applies the entries in the bucket not applied yet.
	CatchUp(ctx context.Context) (int, error)
}

// Env is everything the coordinator needs of its agent. All fields are
// required but Logger and Clock.
type Env struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// NodeName is the agent's name, written into its claims.
	NodeName string
	Journal  Journal
	// Submit proposes commands to the journal and returns their results
	// once applied here, or a Kafka error code if they could not be
	// committed.
	Submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16)
	// Owns reports whether gossip names this agent the group's
	// coordinator.
	Owns func(group string) bool
	// TopicAuthorized, when set (an authorizer is on), says whether a
	// principal connecting from host may DESCRIBE topic: a KIP-848
	// member's regex subscribes it only to the matching topics it may, as
	// Kafka's coordinator resolves regexes. It must not block. ACLVersion
	// then changes whenever the ACLs do, so targets are recomputed.
	TopicAuthorized func(principal, host, topic string) bool
	ACLVersion      func() uint64

	Config
}

// Config holds the coordinator's settings, with Kafka's names.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// a group that was empty waits for more members before its first
	// generation.
	InitialRebalanceDelay time.Duration
	// OffsetsRetention is offsets.retention.minutes: how long the offsets
	// of a group without members outlive its newest commit.
	OffsetsRetention time.Duration
	// CommitTimeout bounds one journal write the coordinator makes on its
	// own account (a claim).
	CommitTimeout time.Duration
}

// Coordinator coordinates every group this agent owns.
type Coordinator struct {
	env Env
	log *slog.Logger
	// ctx bounds the stores in flight; it ends shortly after Close.
	ctx    context.Context
	cancel context.CancelFunc
	clock  clock.Clock
	claims claims
	// moved wakes Run to resume the groups this agent now owns.
	moved chan struct{}

	mu struct {
		sync.Mutex
		groups map[string]*group
		closed bool
	}
	// wg counts the group goroutines and the stores in flight.
	wg sync.WaitGroup
}

// New returns a coordinator with no groups in memory.
func New(env Env) *Coordinator {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	c := &Coordinator{env: env, log: env.Logger, clock: env.Clock}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.moved = make(chan struct{}, 1)
	c.mu.groups = map[string]*group{}
	c.claims.held = map[string]journal.GroupClaim{}
	c.claims.locks = map[string]*claimLock{}
	return c
}

// start returns the named group, starting its goroutine under claim (and
// resuming it from its stored metadata) if it is not in memory; nil once
// the coordinator is closed.
func (c *Coordinator) start(name string, claim journal.GroupClaim) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil
	}
	g := c.mu.groups[name]
	if g == nil {
		g = newGroup(c, name, claim)
		var meta *journal.GroupMeta
		c.env.Journal.View(func(s *journal.State) {
			if m := s.GroupMeta[name]; m != nil {
				cp := *m
				meta = &cp
			}
		})
		if meta != nil {
			g.restore(meta)
		}
		c.mu.groups[name] = g
		c.wg.Go(g.manage)
		g.do(func() {
			g.armTimers()
			g.armIdle()
		})
	}
	return g
}

// lookup returns the named group if it is in memory.
func (c *Coordinator) lookup(name string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.groups[name]
}

// all returns the groups in memory.
func (c *Coordinator) all() []*group {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		out = append(out, g)
	}
	return out
}

// drop removes g from memory if it is still there, ending its goroutine.
// It runs on g's goroutine or with g stopped.
func (c *Coordinator) drop(g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.groups[g.name] == g {
		delete(c.mu.groups, g.name)
		close(g.quit)
	}
}

// Close stops every group, answering waiting members with NOT_COORDINATOR
// so they look for the group elsewhere, and waits for the group goroutines
// and the stores in flight. It is idempotent.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.mu.closed = true
	all := c.mu.groups
	c.mu.groups = map[string]*group{}
	c.mu.Unlock()
	for _, g := range all {
		g.do(g.shutdown)
		close(g.quit)
	}
	// Stores in flight get a moment to land, so a graceful stop hands
	// the groups on as they are; then they are abandoned.
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		c.cancel()
		<-done
	}
	c.cancel()
}

// closeGrace is how long Close waits for stores in flight.
const closeGrace = 5 * time.Second

// MembershipChanged lets go of the groups this agent no longer owns, as
// Close does for all: their waiting members are told NOT_COORDINATOR and
// look for the group's new owner, which resumes it from the journal. And it
// has Run resume the stored groups this agent now owns. The agent calls it
// when the cluster's membership changes.
func (c *Coordinator) MembershipChanged() {
	c.release(func(name string) bool { return !c.env.Owns(name) })
	select {
	case c.moved <- struct{}{}:
	default:
	}
}

func (c *Coordinator) release(drop func(name string) bool) {
	c.mu.Lock()
	var dropped []*group
	for name, g := range c.mu.groups {
		if drop(name) {
			dropped = append(dropped, g)
			delete(c.mu.groups, name)
		}
	}
	c.mu.Unlock()
	for _, g := range dropped {
		c.log.Info("group moved to another coordinator", "group", g.name)
		g.do(g.shutdown)
		close(g.quit)
	}
}

// Counts returns the number of groups in memory and of their members.
func (c *Coordinator) Counts() (groups, members int) {
	for _, g := range c.all() {
		if g.do(func() { members += g.memberCount() }) {
			groups++
		}
	}
	return groups, members
}

// Run does the coordinator's background work until ctx ends: it lets go of
// groups another agent has claimed, resumes the groups this agent owns
// whose stored members are not in memory (at start and after every
// membership change, so their sessions run and expire here, as Kafka loads
// a partition's groups when it becomes their coordinator), and expires the
// offsets of long-empty groups every minute.
func (c *Coordinator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.watchClaims(ctx) })
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	resume := func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c.ResumeOwned(wctx)
	}
	resume()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.moved:
			resume()
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			c.ExpireOffsets(wctx, c.clock.Now())
			cancel()
			resume()
		}
	}
}

// ResumeOwned brings into memory every group this agent owns that has
// stored members and is not in memory yet.
func (c *Coordinator) ResumeOwned(ctx context.Context) {
	var names []string
	c.env.Journal.View(func(s *journal.State) {
		for name, m := range s.GroupMeta {
			if storedMembers(m) > 0 && c.env.Owns(name) {
				names = append(names, name)
			}
		}
	})
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		if c.lookup(name) != nil || !c.env.Owns(name) {
			continue
		}
		if _, code := c.load(ctx, name, false); code != 0 {
			c.log.Warn("resume group", "group", name, "code", code)
		}
	}
}

// load returns the named group, claiming it and resuming it from the
// journal if it is not in memory. Unless create is set, a group that is
// neither in memory nor stored is not started: nil, 0.
func (c *Coordinator) load(ctx context.Context, name string, create bool) (*group, int16) {
	if g := c.lookup(name); g != nil {
		return g, 0
	}
	if !create {
		stored := false
		c.env.Journal.View(func(s *journal.State) { _, stored = s.GroupMeta[name] })
		if !stored {
			return nil, 0
		}
	}
	claim, code := c.claimFor(ctx, name)
	if code != 0 {
		return nil, code
	}
	g := c.start(name, claim)
	if g == nil {
		return nil, notCoordinator
	}
	return g, 0
}

// doGroup runs fn on the named group's goroutine, loading the group as
// load does; it retries if the group is dropped while fn waits. It returns
// a non-zero code if the group could not be had: NOT_COORDINATOR once the
// coordinator is closed, or the claim's failure.
func (c *Coordinator) doGroup(ctx context.Context, name string, create bool, fn func(g *group)) (found bool, code int16) {
	for {
		g, code := c.load(ctx, name, create)
		if code != 0 || g == nil {
			return false, code
		}
		if g.do(func() { fn(g) }) {
			return true, 0
		}
		if ctx.Err() != nil {
			return false, notCoordinator
		}
	}
}
