package groups

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

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

// group is one consumer group. Every field below quit is owned by the
// manage goroutine.
type group struct {
	c    *Coordinator
	name string
	// claim is the journal claim the group was started under; its
	// commits and stores carry it.
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
	pending      map[string]clock.Timer // ids handed out with MEMBER_ID_REQUIRED, expiring
	rebalance    clock.Timer            // ends the join phase
	rebalanceEnd time.Time              // the latest the join phase may run to
	delaying     bool                   // in the initial delay of a group that was empty
	phase        int                    // counts join phases, so stale timers do nothing
	storing      bool                   // a completed generation is being stored
	idle         clock.Timer            // drops an empty group

	cg *consumerGroup // KIP-848 state, once a member has used ConsumerGroupHeartbeat

	// version is the version of the last store taken (store.go).
	version int64
}

func newGroup(c *Coordinator, name string, claim journal.GroupClaim) *group {
	return &group{
		c: c, name: name, claim: claim, state: groupEmpty,
		members: map[string]*member{}, pending: map[string]clock.Timer{},
		reqs: make(chan func()), quit: make(chan struct{}),
	}
}

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
	session    clock.Timer // expires the member without heartbeats
	sessionSeq int         // counts touches, so a stale expiry does nothing
}

// hasConsumers reports whether the group has KIP-848 members.
func (g *group) hasConsumers() bool { return g.cg != nil && len(g.cg.members) > 0 }

// memberCount counts the members of either protocol.
func (g *group) memberCount() int {
	n := len(g.members)
	if g.cg != nil {
		n += len(g.cg.members)
	}
	return n
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

// post runs fn on the group goroutine without waiting; nothing if the
// group is dropped first.
func (g *group) post(fn func()) {
	select {
	case g.reqs <- fn:
	case <-g.quit:
	}
}

// after runs fn on the group goroutine after d, unless stopped.
func (g *group) after(d time.Duration, fn func()) clock.Timer {
	return g.c.clock.AfterFunc(d, func() { g.post(fn) })
}

func (g *group) now() time.Time { return g.c.clock.Now() }

// armIdle (re)starts the timer that drops the group while it stays empty.
func (g *group) armIdle() {
	if g.idle != nil {
		g.idle.Stop()
	}
	g.idle = g.after(idleGroupLifetime, func() {
		if g.state != groupEmpty || len(g.members) > 0 || len(g.pending) > 0 || g.hasConsumers() {
			return
		}
		g.c.drop(g)
	})
}

// armTimers starts the session timers of the members a group was resumed
// with: a new coordinator gives every member a full session, as Kafka's
// does when it loads a group.
func (g *group) armTimers() {
	for _, m := range g.members {
		g.touch(m)
	}
	if g.cg != nil {
		for _, m := range g.cg.members {
			if len(m.revoking) > 0 {
				m.revokeBy = g.now().Add(max(m.rebalanceTimeout, consumerHeartbeatInterval))
			}
			g.touchConsumer(m)
		}
	}
}

func newMemberID(clientID string) string {
	b := make([]byte, 16)
	rand.Read(b)
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b)
}
