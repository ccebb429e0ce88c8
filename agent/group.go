package agent

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Group coordination (the classic protocol).
//
// Membership lives only in the coordinator's memory, as DESIGN.md says:
// members, generations, assignments. Committed offsets go through the
// journal. An agent that restarts, or a group whose coordinator moves,
// therefore starts empty: members get UNKNOWN_MEMBER_ID on their next
// heartbeat and rejoin, and carry on from their committed offsets.
//
// Each group has one goroutine that owns its state (manage); handlers and
// timers hand it functions with do and wait for their replies on channels.
// A JoinGroup or SyncGroup that must wait for the rest of the group parks
// a reply channel on its member; the group goroutine answers it when the
// rebalance reaches the point the request waits for.

// groupState is a classic group's state, named as DescribeGroups reports.
type groupState string

const (
	groupEmpty               groupState = "Empty"
	groupPreparingRebalance  groupState = "PreparingRebalance"
	groupCompletingRebalance groupState = "CompletingRebalance"
	groupStable              groupState = "Stable"
	groupDead                groupState = "Dead"
)

// Timeouts of the classic protocol, Kafka's defaults.
const (
	minSessionTimeout = 6 * time.Second    // group.min.session.timeout.ms
	maxSessionTimeout = 1800 * time.Second // group.max.session.timeout.ms
	// idleGroupLifetime is how long an empty group's goroutine lingers
	// before it is dropped; its offsets stay in the journal.
	idleGroupLifetime = 5 * time.Minute
	// maxOffsetMetadata is offset.metadata.max.bytes.
	maxOffsetMetadata = 4096
)

// groups is the coordinator of every group this agent owns.
type groups struct {
	a *Agent
	// initialDelay is group.initial.rebalance.delay.ms: how long a group
	// that was empty waits for more members before its first generation.
	initialDelay time.Duration

	mu struct {
		sync.Mutex
		groups map[string]*group
		closed bool
	}
	wg sync.WaitGroup
}

func newGroups(a *Agent) *groups {
	g := &groups{a: a, initialDelay: a.cfg.GroupInitialRebalanceDelay}
	g.mu.groups = map[string]*group{}
	return g
}

// get returns the named group, starting its goroutine under claim if it
// is not in memory; nil once the coordinator is closed.
func (gs *groups) get(name string, claim journal.GroupClaim) *group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.mu.closed {
		return nil
	}
	g := gs.mu.groups[name]
	if g == nil {
		g = &group{
			gs: gs, name: name, state: groupEmpty, claim: claim,
			members: map[string]*member{}, pending: map[string]*time.Timer{},
			reqs: make(chan func()), quit: make(chan struct{}),
		}
		gs.mu.groups[name] = g
		gs.wg.Go(g.manage)
		g.armIdle()
	}
	return g
}

// lookup returns the named group if it is in memory.
func (gs *groups) lookup(name string) *group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return gs.mu.groups[name]
}

// each calls fn with every group in memory.
func (gs *groups) all() []*group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	out := make([]*group, 0, len(gs.mu.groups))
	for _, g := range gs.mu.groups {
		out = append(out, g)
	}
	return out
}

// close stops every group goroutine, answering waiting members with
// NOT_COORDINATOR so they look for the group elsewhere. It waits.
func (gs *groups) close() {
	gs.mu.Lock()
	gs.mu.closed = true
	all := gs.mu.groups
	gs.mu.groups = map[string]*group{}
	gs.mu.Unlock()
	for _, g := range all {
		g.do(g.shutdown)
		close(g.quit)
	}
	gs.wg.Wait()
}

// release drops the groups for which drop is true, as close does: their
// waiting members are told NOT_COORDINATOR and look for the group's new
// owner. The agent calls it when membership changes.
func (gs *groups) release(drop func(name string) bool) {
	gs.mu.Lock()
	var dropped []*group
	for name, g := range gs.mu.groups {
		if drop(name) {
			dropped = append(dropped, g)
			delete(gs.mu.groups, name)
		}
	}
	gs.mu.Unlock()
	for _, g := range dropped {
		gs.a.log.Info("group moved to another coordinator", "group", g.name)
		g.do(g.shutdown)
		close(g.quit)
	}
}

// counts returns the number of groups in memory and of their members.
func (gs *groups) counts() (groups, members int) {
	for _, g := range gs.all() {
		g.do(func() {
			members += len(g.members)
			if g.cg != nil {
				members += len(g.cg.members)
			}
		})
		groups++
	}
	return groups, members
}

// group is one consumer group. Every field below reqs is owned by the
// manage goroutine.
type group struct {
	gs   *groups
	name string
	// claim is the journal claim the group was started under; its offset
	// commits carry it, and the group is dropped once another agent's
	// claim supersedes it (group_claim.go).
	claim journal.GroupClaim
	reqs  chan func()
	quit  chan struct{}

	state        groupState
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	joinOrder    []string               // member ids in the order they first joined
	pending      map[string]*time.Timer // ids handed out with MEMBER_ID_REQUIRED, expiring
	rebalance    *time.Timer            // ends the join phase
	rebalanceEnd time.Time              // the latest the join phase may run to
	delaying     bool                   // in the initial delay of a group that was empty
	phase        int                    // counts join phases, so stale timers do nothing
	idle         *time.Timer            // drops an empty group

	cg *consumerGroup // KIP-848 state, once a member has used ConsumerGroupHeartbeat
}

// hasConsumers reports whether the group has KIP-848 members.
func (g *group) hasConsumers() bool { return g.cg != nil && len(g.cg.members) > 0 }

// member is one member of a classic group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte

	join       chan *kmsg.JoinGroupResponse // set while a JoinGroup waits
	joinReq    *kmsg.JoinGroupRequest
	sync       chan *kmsg.SyncGroupResponse // set while a SyncGroup waits
	syncReq    *kmsg.SyncGroupRequest
	session    *time.Timer // expires the member without heartbeats
	sessionSeq int         // counts touches, so a stale expiry does nothing
}

// manage runs the group's functions one at a time.
func (g *group) manage() {
	for {
		select {
		case fn := <-g.reqs:
			fn()
		case <-g.quit:
			return
		}
	}
}

// do runs fn on the group goroutine and waits for it. It reports false if
// the group was dropped meanwhile; the caller then gets the group anew.
func (g *group) do(fn func()) bool {
	done := make(chan struct{})
	select {
	case g.reqs <- func() { fn(); close(done) }:
		<-done
		return true
	case <-g.quit:
		return false
	}
}

// after runs fn on the group goroutine after d, unless stopped.
func (g *group) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		select {
		case g.reqs <- fn:
		case <-g.quit:
		}
	})
}

// doGroup runs fn on the named group's goroutine, retrying if the group is
// dropped while fn waits; a group not in memory starts under claim. It
// reports false if the coordinator is closed.
func (gs *groups) doGroup(name string, claim journal.GroupClaim, fn func(g *group)) bool {
	for {
		g := gs.get(name, claim)
		if g == nil {
			return false
		}
		if g.do(func() { fn(g) }) {
			return true
		}
	}
}

// armIdle (re)starts the timer that drops the group while it stays empty.
func (g *group) armIdle() {
	if g.idle != nil {
		g.idle.Stop()
	}
	g.idle = g.after(idleGroupLifetime, func() {
		if g.state != groupEmpty || len(g.members) > 0 || len(g.pending) > 0 || g.hasConsumers() {
			return
		}
		gs := g.gs
		gs.mu.Lock()
		if gs.mu.groups[g.name] == g {
			delete(gs.mu.groups, g.name)
			close(g.quit)
		}
		gs.mu.Unlock()
	})
}

func newMemberID(clientID string) string {
	b := make([]byte, 16)
	rand.Read(b)
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b)
}
