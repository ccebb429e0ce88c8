package streamsgroups

import (
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
)

// Kafka error codes the package answers with.
var (
	notCoordinator    = kerr.NotCoordinator.Code
	groupIDNotFound   = kerr.GroupIDNotFound.Code
	unknownMemberID   = kerr.UnknownMemberID.Code
	fencedMemberEpoch = kerr.FencedMemberEpoch.Code
	staleMemberEpoch  = kerr.StaleMemberEpoch.Code
	nonEmptyGroup     = kerr.NonEmptyGroup.Code
)

// group is one streams group at its coordinator. Guarded by Service.mu.
type group struct {
	name string
	// epoch is the group epoch, bumped by every change that may change
	// the assignment: members joining or leaving, a member's process, the
	// topology, the task counts.
	epoch int32
	// targetEpoch is the group epoch the target assignment was computed
	// at; target is each member's.
	targetEpoch int32
	target      map[string]assignment
	topology    *topology
	conf        configured
	members     map[string]*member
	// endpointEpoch counts the changes of the assignment that members
	// with a user endpoint (Interactive Queries) must learn of.
	endpointEpoch int32
	// shutdown is set once a member asked the whole application to stop.
	shutdown bool
	// standbys is the standby replicas per task the target was computed
	// with (streams.num.standby.replicas).
	standbys int

	// version is the version of the last store taken, stored its
	// content (store.go); restored marks a group resumed from the journal
	// whose topology is not configured yet.
	version  int64
	stored   []byte
	restored bool
}

// member is one member of a streams group: a stream thread's consumer.
type member struct {
	id, clientID, clientHost string
	process                  string
	instanceID, rack         *string
	topologyEpoch            int32
	rebalanceTimeout         time.Duration
	sessionTimeout           time.Duration // the group's, when it last heartbeated
	endpoint                 *kmsg.Endpoint
	clientTags               map[string]string
	taskOffsets              []kmsg.TaskOffset
	taskEndOffsets           []kmsg.TaskOffset

	epoch, prevEpoch int32
	// current is what the member is given now; revoking what it was told
	// to give up and has not yet reported gone; owned what it last
	// reported holding.
	current, revoking, owned assignment
	// sent is the assignment last sent to the member, so an unchanged one
	// is not sent again; nil before the first.
	sent *assignment

	session    clock.Timer
	revokeTime clock.Timer
}

func (g *group) stopTimers() {
	for _, m := range g.members {
		m.stopTimers()
	}
}

func (m *member) stopTimers() {
	if m.session != nil {
		m.session.Stop()
	}
	if m.revokeTime != nil {
		m.revokeTime.Stop()
	}
}

// state names the group's state as Kafka's StreamsGroupState does.
func (g *group) state() string {
	switch {
	case len(g.members) == 0:
		return "Empty"
	case g.conf.tasks == nil:
		return "NotReady"
	case g.targetEpoch < g.epoch:
		return "Assigning"
	}
	for id, m := range g.members {
		if m.epoch != g.targetEpoch || !m.revoking.empty() || !m.current.equal(g.targetOf(id)) {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (a assignment) empty() bool {
	return len(a.active) == 0 && len(a.standby) == 0 && len(a.warmup) == 0
}

func (g *group) targetOf(id string) assignment {
	if a, ok := g.target[id]; ok {
		return a
	}
	return newAssignment()
}

// computeTarget recomputes the target assignment at the group epoch: the
// sticky assignor over the members' current tasks, or nothing while the
// topology is not configured.
func (g *group) computeTarget(standbys int) {
	g.targetEpoch = g.epoch
	g.target = map[string]assignment{}
	if g.conf.tasks == nil {
		return
	}
	var as []assignee
	hasEndpoint := false
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		prev := assignee{id: id, process: m.process, prevActive: taskSet{}, prevStandby: taskSet{}}
		for _, a := range []assignment{m.current, m.revoking} {
			maps.Copy(prev.prevActive, a.active)
			maps.Copy(prev.prevStandby, a.standby)
			maps.Copy(prev.prevStandby, a.warmup)
		}
		as = append(as, prev)
		hasEndpoint = hasEndpoint || m.endpoint != nil
	}
	g.target = assignSticky(g.conf.tasks, as, standbys)
	if hasEndpoint {
		g.endpointEpoch++
	}
}

// reconcile moves a member toward its target: first it gives up what the
// target takes away, keeping its epoch until it reports those tasks gone;
// then it takes the target's epoch and the target's tasks that no other
// member still holds. It reports whether the member must be given a
// revocation deadline.
func (g *group) reconcile(m *member) (revokeStarted bool) {
	tgt := g.targetOf(m.id)
	drop := assignment{
		active:  minus(m.current.active, tgt.active),
		standby: minus(m.current.standby, tgt.standby),
		warmup:  minus(m.current.warmup, tgt.warmup),
	}
	if !drop.empty() {
		hadRevoking := !m.revoking.empty()
		for _, pair := range [][2]taskSet{{m.revoking.active, drop.active}, {m.revoking.standby, drop.standby}, {m.revoking.warmup, drop.warmup}} {
			maps.Copy(pair[0], pair[1])
		}
		m.current = assignment{
			active:  intersect(m.current.active, tgt.active),
			standby: intersect(m.current.standby, tgt.standby),
			warmup:  intersect(m.current.warmup, tgt.warmup),
		}
		revokeStarted = !hadRevoking
	}
	if !m.revoking.empty() {
		if overlaps(m.owned.active, m.revoking.active) || overlaps(m.owned.standby, m.revoking.standby) ||
			overlaps(m.owned.warmup, m.revoking.warmup) {
			return revokeStarted
		}
		m.revoking = newAssignment()
		if m.revokeTime != nil {
			m.revokeTime.Stop()
			m.revokeTime = nil
		}
	}
	if m.epoch != g.targetEpoch {
		m.prevEpoch, m.epoch = m.epoch, g.targetEpoch
	}
	next := assignment{active: taskSet{}, standby: maps.Clone(tgt.standby), warmup: maps.Clone(tgt.warmup)}
	for t := range tgt.active {
		if m.current.active[t] || !g.heldByOther(t, m.id) {
			next.active[t] = true
		}
	}
	m.current = next
	return false
}

// heldByOther reports whether a member other than id holds task t
// active, or has not yet reported giving it up.
func (g *group) heldByOther(t taskID, id string) bool {
	for oid, o := range g.members {
		if oid != id && (o.current.active[t] || o.revoking.active[t]) {
			return true
		}
	}
	return false
}

func minus(a, b taskSet) taskSet {
	out := taskSet{}
	for t := range a {
		if !b[t] {
			out[t] = true
		}
	}
	return out
}

func intersect(a, b taskSet) taskSet {
	out := taskSet{}
	for t := range a {
		if b[t] {
			out[t] = true
		}
	}
	return out
}

func overlaps(a, b taskSet) bool {
	for t := range a {
		if b[t] {
			return true
		}
	}
	return false
}

// describe renders the group for StreamsGroupDescribe.
func (g *group) describe() kmsg.StreamsGroupDescribeResponseGroup {
	out := kmsg.NewStreamsGroupDescribeResponseGroup()
	out.Group, out.State, out.Epoch, out.AssignmentEpoch = g.name, g.state(), g.epoch, g.targetEpoch
	assignor := "sticky"
	out.AssignorName = &assignor
	if g.topology != nil {
		top := kmsg.NewStreamsGroupDescribeResponseGroupTopology()
		top.Epoch = g.topology.epoch
		// Empty, not null, while the topology is not configured: Kafka's
		// admin client (4.4) fails on a null list.
		top.Subtopologies = []kmsg.StreamsGroupDescribeResponseGroupTopologySubtopology{}
		if g.conf.tasks != nil {
			for _, s := range g.topology.subs {
				ds := kmsg.NewStreamsGroupDescribeResponseGroupTopologySubtopology()
				ds.SubtopologyID = s.id
				// The source topics, regular expressions resolved; the
				// repartition topics it reads are listed apart, as tools
				// that delete internal topics rely on.
				for _, in := range g.conf.inputs[s.id] {
					if !slices.ContainsFunc(s.repartitionSources, func(t topicInfo) bool { return t.name == in }) {
						ds.SourceTopics = append(ds.SourceTopics, in)
					}
				}
				ds.RepartitionSinkTopics = s.repartitionSinks
				for _, rs := range s.repartitionSources {
					ds.RepartitionSourceTopics = append(ds.RepartitionSourceTopics, g.describeTopic(rs.name))
				}
				for _, cl := range s.changelogs {
					ds.StateChangelogTopics = append(ds.StateChangelogTopics, g.describeTopic(cl.name))
				}
				top.Subtopologies = append(top.Subtopologies, ds)
			}
		}
		out.Topology = &top
	}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		dm := kmsg.NewStreamsGroupDescribeResponseGroupMember()
		dm.MemberID, dm.MemberEpoch, dm.InstanceID, dm.RackID = m.id, m.epoch, m.instanceID, m.rack
		dm.ClientID, dm.ClientHost, dm.TopologyEpoch, dm.ProcessID = m.clientID, m.clientHost, m.topologyEpoch, m.process
		if m.endpoint != nil {
			ep := kmsg.NewStreamsGroupDescribeResponseGroupMemberUserEndpoint()
			ep.Host, ep.Port = m.endpoint.Host, m.endpoint.Port
			dm.UserEndpoint = &ep
		}
		for _, k := range slices.Sorted(maps.Keys(m.clientTags)) {
			tag := kmsg.NewStreamsGroupDescribeResponseGroupMemberClientTag()
			tag.Key, tag.Value = k, m.clientTags[k]
			dm.ClientTags = append(dm.ClientTags, tag)
		}
		dm.TaskOffsets, dm.TaskEndOffsets = m.taskOffsets, m.taskEndOffsets
		dm.Assignment = m.current.wire()
		dm.TargetAssignment = g.targetOf(id).wire()
		out.Members = append(out.Members, dm)
	}
	return out
}

func (g *group) describeTopic(name string) kmsg.TopicInfo {
	ti := kmsg.NewTopicInfo()
	ti.Topic = name
	nt := g.conf.internal[name]
	ti.NumPartitions = nt.Partitions
	for _, k := range slices.Sorted(maps.Keys(nt.Configs)) {
		c := kmsg.NewTopicInfoConfig()
		c.Key, c.Value = k, nt.Configs[k]
		ti.Configs = append(ti.Configs, c)
	}
	return ti
}
