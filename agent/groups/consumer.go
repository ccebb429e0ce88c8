package groups

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Consumer groups of the KIP-848 protocol (ConsumerGroupHeartbeat).
//
// The coordinator assigns partitions itself. Every change to the group
// (a member joins, leaves or changes its subscription; a subscribed topic
// gains partitions) bumps the group epoch and recomputes the target
// assignment. Each member then reconciles towards its target on its own
// heartbeats, in two steps that never let two members own a partition at
// once: first it is told to drop the partitions it must give up (its epoch
// stays), and once it confirms (its heartbeat's owned partitions no longer
// list them) it moves to the group epoch and is given the partitions of its
// target that no other member holds or is still giving up. A member that
// does not release partitions within its rebalance timeout is fenced.
//
// A group is either classic or consumer: the protocols do not mix in one
// group while it has members (INCONSISTENT_GROUP_PROTOCOL).

// consumerHeartbeatInterval is the interval members are told to heartbeat
// at; shorter than Kafka's 5 s default, so reassignments propagate
// quickly, at the cost of a cheap in-memory request per member per second.
const consumerHeartbeatInterval = time.Second

// consumerSessionTimeout is group.consumer.session.timeout.ms.
const consumerSessionTimeout = 45 * time.Second

// Member epochs with a meaning of their own in a heartbeat.
const (
	joinEpoch        = 0
	leaveEpoch       = -1
	staticLeaveEpoch = -2 // a static member leaving, to come back
)

// assignors are the server-side assignors offered, the default first.
var assignors = []string{"uniform", "range"}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

type tpSet map[tp]struct{}

func (s tpSet) has(p tp) bool { _, ok := s[p]; return ok }

func (s tpSet) equal(o tpSet) bool {
	if len(s) != len(o) {
		return false
	}
	for p := range s {
		if !o.has(p) {
			return false
		}
	}
	return true
}

// consumerGroup is the KIP-848 state of a group, owned by its goroutine.
type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	assignor        string
	members         map[string]*cmember
	order           []string // member ids in join order
	topicsSeen      string   // the subscribed topics and sizes the target was computed for
	// dirty is set by every change a store must record, and cleared
	// when one is taken.
	dirty bool
}

// cmember is one member of a consumer group.
type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	principal        string // of its last heartbeat; "" when resumed from the journal, until it heartbeats here
	epoch, prevEpoch int32
	rebalanceTimeout time.Duration
	subscribed       []string
	regex            *string
	assignor         string

	target   tpSet // what the assignor gives it
	assigned tpSet // what it has been told it owns
	revoking tpSet // told to drop, not yet confirmed
	sent     bool  // assigned has been sent since it last changed

	session    clock.Timer
	sessionSeq int
	revokeBy   time.Time // when revoking must be done
}

// validateHeartbeat refuses what a ConsumerGroupHeartbeat may not ask,
// before anything changes: a refused heartbeat leaves the group as it was.
func (g *group) validateHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest) (int16, string) {
	switch {
	case len(g.members) > 0:
		return kerr.InconsistentGroupProtocol.Code, "the group uses the classic protocol"
	case r.MemberEpoch == joinEpoch && r.SubscribedTopicNames == nil && r.SubscribedTopicRegex == nil:
		return kerr.InvalidRequest.Code, "a joining member must subscribe to topics"
	case r.MemberEpoch < staticLeaveEpoch:
		return kerr.InvalidRequest.Code, "member epoch " + strconv.Itoa(int(r.MemberEpoch))
	case r.ServerAssignor != nil && *r.ServerAssignor != "" && !slices.Contains(assignors, *r.ServerAssignor):
		return kerr.UnsupportedAssignor.Code, "assignors: " + strings.Join(assignors, ", ")
	}
	if r.SubscribedTopicRegex != nil && *r.SubscribedTopicRegex != "" {
		if _, err := regexp.Compile(*r.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression.Code, err.Error()
		}
	}
	if r.MemberEpoch == joinEpoch && r.InstanceID != nil && g.cg != nil {
		if other := g.staticConsumer(*r.InstanceID); other != nil && other.id != r.MemberID && other.epoch != staticLeaveEpoch {
			// KIP-848: the instance id is held by a live member; the new
			// one must wait for it to leave (with epoch -2) or expire.
			return kerr.UnreleasedInstanceID.Code, "instance " + *r.InstanceID + " is held by member " + other.id
		}
	}
	return 0, ""
}

// consumerHeartbeat handles a ConsumerGroupHeartbeat. If the heartbeat
// changed what the group stores, stored receives the store's outcome and
// the response may be sent only after it.
func (g *group) consumerHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost, principal string) (resp *kmsg.ConsumerGroupHeartbeatResponse, stored <-chan int16) {
	resp = r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	fail := func(code int16, msg string) (*kmsg.ConsumerGroupHeartbeatResponse, <-chan int16) {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp, nil
	}
	if code, msg := g.validateHeartbeat(r); code != 0 {
		return fail(code, msg)
	}
	var m *cmember
	switch {
	case r.MemberEpoch == joinEpoch:
	case g.cg == nil || g.cg.members[r.MemberID] == nil:
		return fail(kerr.UnknownMemberID.Code, "")
	default:
		m = g.cg.members[r.MemberID]
		if r.MemberEpoch > 0 && (m.epoch == staticLeaveEpoch || r.MemberEpoch != m.epoch && r.MemberEpoch != m.prevEpoch) {
			return fail(kerr.FencedMemberEpoch.Code, "")
		}
	}

	// The request is valid: from here on it changes the group.
	if g.cg == nil {
		g.cg = &consumerGroup{members: map[string]*cmember{}}
	}
	cg := g.cg
	if g.idle != nil {
		g.idle.Stop()
	}
	defer func() {
		if len(cg.members) == 0 {
			g.armIdle()
		}
		if cg.dirty {
			cg.dirty = false
			stored = g.persist(nil)
		}
	}()
	switch {
	case r.MemberEpoch == leaveEpoch:
		g.removeConsumer(m)
		resp.MemberID, resp.MemberEpoch = &m.id, r.MemberEpoch
		return resp, nil
	case r.MemberEpoch == staticLeaveEpoch:
		if m.instanceID == nil {
			g.removeConsumer(m)
		} else {
			// It keeps its place and assignment until its session
			// ends or its instance comes back; prevEpoch keeps the
			// epoch the instance takes up again.
			m.prevEpoch, m.epoch = m.epoch, staticLeaveEpoch
			cg.dirty = true
		}
		resp.MemberID, resp.MemberEpoch = &m.id, r.MemberEpoch
		return resp, nil
	case r.MemberEpoch == joinEpoch:
		m = g.joinConsumer(r, clientID)
	}
	if r.ServerAssignor != nil && *r.ServerAssignor != "" && m.assignor != *r.ServerAssignor {
		m.assignor = *r.ServerAssignor
		cg.dirty = true
	}
	m.clientID, m.clientHost = clientID, clientHost
	if m.principal != principal {
		m.principal = principal
		if m.regex != nil {
			g.bumpEpoch() // what its regex may match can change with who it is
		}
	}
	if r.InstanceID != nil {
		m.instanceID = r.InstanceID
	}
	if r.RackID != nil {
		m.rackID = r.RackID
	}
	if r.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	}
	if r.SubscribedTopicNames != nil && !slices.Equal(r.SubscribedTopicNames, m.subscribed) {
		m.subscribed = slices.Clone(r.SubscribedTopicNames)
		g.bumpEpoch()
	}
	switch {
	case r.SubscribedTopicRegex != nil && *r.SubscribedTopicRegex == "":
		// An empty regex is none, as in Kafka: librdkafka sends "" when
		// it subscribes by name.
		if m.regex != nil {
			m.regex = nil
			g.bumpEpoch()
		}
	case r.SubscribedTopicRegex != nil && (m.regex == nil || *m.regex != *r.SubscribedTopicRegex):
		re := *r.SubscribedTopicRegex
		m.regex = &re
		g.bumpEpoch()
	}
	if r.Topics != nil {
		g.confirmReleased(m, r.Topics)
	}
	g.refreshTarget()
	g.reconcile(m)
	g.touchConsumer(m)

	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	resp.HeartbeatIntervalMillis = int32(consumerHeartbeatInterval / time.Millisecond)
	if !m.sent {
		resp.Assignment = g.assignmentOf(m.assigned)
		m.sent = true
	}
	return resp, nil
}

// joinConsumer adds a member joining with epoch 0. A static member whose
// instance left with epoch -2 takes its place: its epoch and assignment,
// so nothing moves.
func (g *group) joinConsumer(r *kmsg.ConsumerGroupHeartbeatRequest, clientID string) *cmember {
	cg := g.cg
	id := r.MemberID
	if id == "" {
		id = newMemberID(clientID)
	}
	m := &cmember{id: id, target: tpSet{}, assigned: tpSet{}, revoking: tpSet{}}
	if r.InstanceID != nil {
		if old := g.staticConsumer(*r.InstanceID); old != nil && old.epoch == staticLeaveEpoch {
			m.epoch, m.prevEpoch = old.prevEpoch, old.prevEpoch
			m.target, m.assigned, m.revoking = old.target, old.assigned, old.revoking
			m.subscribed, m.regex, m.assignor = old.subscribed, old.regex, old.assignor
			g.dropConsumer(old)
			cg.members[id] = m
			cg.order = append(cg.order, id)
			cg.dirty = true
			return m
		}
	}
	if old := cg.members[id]; old != nil {
		g.removeConsumer(old) // rejoining from scratch
	}
	cg.members[id] = m
	cg.order = append(cg.order, id)
	g.bumpEpoch()
	return m
}

// confirmReleased takes the partitions a member reports owning: those it
// was told to give up and no longer lists are free.
func (g *group) confirmReleased(m *cmember, owned []kmsg.ConsumerGroupHeartbeatRequestTopic) {
	have := tpSet{}
	g.c.env.Journal.View(func(s *journal.State) {
		for _, t := range owned {
			if topic := s.TopicByID(journal.TopicID(t.TopicID)); topic != nil {
				for _, p := range t.Partitions {
					have[tp{topic.Name, p}] = struct{}{}
				}
			}
		}
	})
	for p := range m.revoking {
		if !have.has(p) {
			delete(m.revoking, p)
			g.cg.dirty = true
		}
	}
}

// bumpEpoch advances the group epoch: the target must be recomputed.
func (g *group) bumpEpoch() {
	g.cg.epoch++
	g.cg.dirty = true
}

func (g *group) staticConsumer(instanceID string) *cmember {
	for _, m := range g.cg.members {
		if m.instanceID != nil && *m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// dropConsumer forgets a member without changing the group epoch.
func (g *group) dropConsumer(m *cmember) {
	cg := g.cg
	if m.session != nil {
		m.session.Stop()
	}
	delete(cg.members, m.id)
	cg.order = slices.DeleteFunc(cg.order, func(id string) bool { return id == m.id })
	cg.dirty = true
}

// removeConsumer drops a member; its partitions are free at once (it is
// gone, or fenced and told so), and the group epoch moves on.
func (g *group) removeConsumer(m *cmember) {
	g.dropConsumer(m)
	g.bumpEpoch()
	g.refreshTarget()
}

// touchConsumer restarts a member's session timer, and fences a member that
// has not released partitions within its rebalance timeout.
func (g *group) touchConsumer(m *cmember) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.session = g.after(consumerSessionTimeout, func() {
		if g.cg != nil && g.cg.members[m.id] == m && m.sessionSeq == seq {
			g.c.log.Info("consumer group member session expired", "group", g.name, "member", m.id)
			g.removeConsumer(m)
			g.cg.dirty = false
			g.persist(nil)
		}
	})
	if len(m.revoking) > 0 && !m.revokeBy.IsZero() && g.now().After(m.revokeBy) {
		g.c.log.Info("consumer group member did not release partitions in time", "group", g.name, "member", m.id)
		g.removeConsumer(m)
	}
}

// subscribedTopics returns, for every topic some member subscribes to, its
// partition count; and a string that changes when any of that changes.
func (g *group) subscribedTopics() (map[string]int32, string) {
	sizes := map[string]int32{}
	g.c.env.Journal.View(func(s *journal.State) {
		for _, m := range g.cg.members {
			for _, name := range m.subscribed {
				if t := s.Topic(name); t != nil {
					sizes[name] = int32(len(t.Partitions))
				}
			}
			if m.regex != nil {
				re, err := regexp.Compile(*m.regex)
				if err != nil {
					continue
				}
				for name, t := range s.Topics {
					if re.MatchString(name) {
						sizes[name] = int32(len(t.Partitions))
					}
				}
			}
		}
	})
	names := slices.Sorted(maps.Keys(sizes))
	var b strings.Builder
	if env := g.c.env; env.ACLVersion != nil && slices.ContainsFunc(slices.Collect(maps.Values(g.cg.members)), func(m *cmember) bool { return m.regex != nil }) {
		// What a regex may match changes with the ACLs.
		b.WriteString("acls=" + strconv.FormatUint(env.ACLVersion(), 10) + ";")
	}
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(sizes[n])))
		b.WriteByte(';')
	}
	return sizes, b.String()
}

// refreshTarget recomputes the target assignment when the group epoch or
// the subscribed topics changed.
func (g *group) refreshTarget() {
	cg := g.cg
	sizes, seen := g.subscribedTopics()
	if seen != cg.topicsSeen {
		if cg.topicsSeen != "" || cg.assignmentEpoch > 0 {
			cg.epoch++
		}
		cg.topicsSeen = seen
		cg.dirty = true
	}
	if cg.assignmentEpoch == cg.epoch {
		return
	}
	cg.assignor = assignors[0]
	for _, id := range cg.order {
		if a := cg.members[id].assignor; a != "" {
			cg.assignor = a
			break
		}
	}
	g.assign(sizes)
	cg.assignmentEpoch = cg.epoch
	cg.dirty = true
}

// reconcile moves a member one step towards its target (see the comment at
// the top of this file).
func (g *group) reconcile(m *cmember) {
	cg := g.cg
	var drop []tp
	for p := range m.assigned {
		if !m.target.has(p) {
			drop = append(drop, p)
		}
	}
	if len(drop) > 0 {
		for _, p := range drop {
			delete(m.assigned, p)
			m.revoking[p] = struct{}{}
		}
		m.sent = false
		m.revokeBy = g.now().Add(max(m.rebalanceTimeout, consumerHeartbeatInterval))
		cg.dirty = true
		return
	}
	if len(m.revoking) > 0 {
		return // waiting for the member to confirm
	}
	m.revokeBy = time.Time{}
	if m.epoch != cg.epoch {
		m.prevEpoch, m.epoch = m.epoch, cg.epoch
		cg.dirty = true
	}
	for p := range m.target {
		if m.assigned.has(p) || g.heldByOther(m, p) {
			continue
		}
		m.assigned[p] = struct{}{}
		m.sent = false
		cg.dirty = true
	}
}

func (g *group) heldByOther(m *cmember, p tp) bool {
	for _, o := range g.cg.members {
		if o != m && (o.assigned.has(p) || o.revoking.has(p)) {
			return true
		}
	}
	return false
}

// assignmentOf renders partitions for a heartbeat response, by topic id.
func (g *group) assignmentOf(set tpSet) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	byTopic := map[string][]int32{}
	for p := range set {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	g.c.env.Journal.View(func(s *journal.State) {
		for _, n := range slices.Sorted(maps.Keys(byTopic)) {
			t := s.Topic(n)
			if t == nil {
				continue
			}
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID = t.ID
			at.Partitions = byTopic[n]
			slices.Sort(at.Partitions)
			a.Topics = append(a.Topics, at)
		}
	})
	return &a
}

// consumerState names the group's state as ConsumerGroupDescribe and
// ListGroups report it.
func (g *group) consumerState() string {
	cg := g.cg
	switch {
	case cg == nil || len(cg.members) == 0:
		return "Empty"
	case cg.assignmentEpoch != cg.epoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != staticLeaveEpoch && (m.epoch != cg.epoch || !m.assigned.equal(m.target)) {
			return "Reconciling"
		}
	}
	return "Stable"
}

// checkConsumerCommit says whether a consumer-group member may commit
// with this epoch (sent in the generation field).
func (g *group) checkConsumerCommit(memberID string, epoch int32) int16 {
	m := g.cg.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch.Code
	case epoch < m.epoch && epoch != m.prevEpoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}
