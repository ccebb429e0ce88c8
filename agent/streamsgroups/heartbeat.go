package streamsgroups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Heartbeat serves StreamsGroupHeartbeat: join (epoch 0, with the
// topology), leave (-1, or -2 for a static member), or heartbeat at the
// member's epoch (or the one before, if the response that moved it was
// lost). It may create the topology's internal topics, so it blocks; ctx
// is the request's.
func (s *Service) Heartbeat(ctx context.Context, r *kmsg.StreamsGroupHeartbeatRequest, clientID, clientHost string) *kmsg.StreamsGroupHeartbeatResponse {
	resp := r.ResponseKind().(*kmsg.StreamsGroupHeartbeatResponse)
	resp.MemberID, resp.MemberEpoch = r.MemberID, r.MemberEpoch
	fail := func(code int16, msg string) *kmsg.StreamsGroupHeartbeatResponse {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	switch {
	case r.Group == "":
		return fail(kerr.InvalidGroupID.Code, "")
	case r.MemberID == "":
		return fail(kerr.InvalidRequest.Code, "the member id must be set")
	case r.MemberEpoch < -2:
		return fail(kerr.InvalidRequest.Code, fmt.Sprintf("member epoch %d is invalid", r.MemberEpoch))
	case !s.env.OwnsGroup(r.Group):
		return fail(kerr.NotCoordinator.Code, "")
	case r.MemberEpoch == 0 && r.Topology == nil:
		return fail(kerr.InvalidRequest.Code, "a joining member must send its topology")
	case r.MemberEpoch == 0 && (r.ProcessID == nil || *r.ProcessID == ""):
		return fail(kerr.InvalidRequest.Code, "a joining member must send its process id")
	}
	var topo *topology
	if r.Topology != nil && r.MemberEpoch == 0 {
		t, err := topologyFrom(r.Topology)
		if err != nil {
			return fail(kerr.StreamsInvalidTopology.Code, err.Error())
		}
		topo = t
	}
	if r.MemberEpoch >= 0 && s.env.OtherType != nil && !s.IsStreamsGroup(r.Group) && s.env.OtherType(r.Group) {
		return fail(kerr.GroupIDNotFound.Code, fmt.Sprintf("group %s is not a streams group", r.Group))
	}

	// A group that moved here is resumed from the journal; the topology
	// is configured, and its internal topics created, with no lock held.
	s.resume(ctx, r.Group)
	if r.MemberEpoch >= 0 {
		if cur := s.installTopology(r.Group, topo, r.MemberEpoch == 0); cur != nil {
			conf := s.configureCreating(ctx, cur)
			s.mu.Lock()
			if g := s.mu.groups[r.Group]; g != nil && g.topology == cur {
				// A new task count changes the assignment; the first
				// configuration of a group resumed from the journal
				// does not: its stored target stands.
				if conf.fingerprint != g.conf.fingerprint && !g.restored {
					g.epoch++
				}
				g.conf, g.restored = conf, false
			}
			s.mu.Unlock()
		}
	}

	set := s.settings(r.Group)
	g, st := s.beat(r, resp, clientID, clientHost, set)
	if code := s.store(ctx, g, st); code != 0 {
		failed := r.ResponseKind().(*kmsg.StreamsGroupHeartbeatResponse)
		failed.MemberID, failed.MemberEpoch, failed.ErrorCode = r.MemberID, r.MemberEpoch, code
		return failed
	}
	return resp
}

// beat applies a heartbeat to its group and fills in the response; it
// returns the group and the store that records what changed, if
// anything did.
func (s *Service) beat(r *kmsg.StreamsGroupHeartbeatRequest, resp *kmsg.StreamsGroupHeartbeatResponse, clientID, clientHost string, set groupSettings) (*group, *journal.StoreStreamsGroup) {
	fail := func(code int16, msg string) (*group, *journal.StoreStreamsGroup) {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return fail(kerr.NotCoordinator.Code, "")
	}
	g := s.lookupLocked(r.Group)
	if g == nil {
		return fail(kerr.UnknownMemberID.Code, "")
	}
	m := g.members[r.MemberID]
	switch {
	case r.MemberEpoch < 0:
		if m == nil {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		s.removeLocked(g, m)
		resp.MemberEpoch = r.MemberEpoch
		return g, s.changeLocked(g)
	case r.MemberEpoch == 0:
		if m == nil {
			if len(g.members) >= s.cfg.MaxSize {
				return fail(kerr.GroupMaxSizeReached.Code, "")
			}
			m = &member{id: r.MemberID}
			g.members[m.id] = m
		} else {
			m.stopTimers()
		}
		// A member (re)joining holds nothing.
		m.current, m.revoking, m.owned, m.sent = newAssignment(), newAssignment(), newAssignment(), nil
		m.epoch, m.prevEpoch = 0, 0
		g.epoch++
	case m == nil:
		return fail(kerr.UnknownMemberID.Code, "")
	case r.MemberEpoch != m.epoch && r.MemberEpoch != m.prevEpoch:
		return fail(kerr.FencedMemberEpoch.Code, "")
	}
	s.updateMember(g, m, r, clientID, clientHost)
	if set.standbys != g.standbys {
		g.standbys = set.standbys
		g.epoch++
	}
	if g.targetEpoch < g.epoch {
		g.computeTarget(g.standbys)
	}
	if g.reconcile(m) {
		s.armRevocation(g, m)
	}
	m.sessionTimeout = set.sessionTimeout
	s.touch(g, m)

	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(set.heartbeatInterval / time.Millisecond)
	resp.AcceptableRecoveryLag = acceptableRecoveryLag
	resp.AcceptableRecoveryLagLegacy = acceptableRecoveryLag
	resp.TaskOffsetIntervalMillis = int32(taskOffsetInterval / time.Millisecond)
	resp.Status = g.statuses(m)
	if m.sent == nil || !m.sent.equal(m.current) || r.MemberEpoch == 0 {
		w := m.current.wire()
		resp.ActiveTasks, resp.StandbyTasks, resp.WarmupTasks = w.ActiveTasks, w.StandbyTasks, w.WarmupTasks
		sent := assignment{active: maps.Clone(m.current.active), standby: maps.Clone(m.current.standby), warmup: maps.Clone(m.current.warmup)}
		m.sent = &sent
	}
	resp.EndpointInformationEpoch = g.endpointEpoch
	if r.EndpointInformationEpoch != g.endpointEpoch {
		resp.PartitionsByUserEndpoint = g.endpoints()
	}
	return g, s.changeLocked(g)
}

// installTopology creates the group on a join and sets its topology when
// it has none or the joining member's is newer; it returns the group's
// topology, nil if there is no group.
func (s *Service) installTopology(name string, t *topology, join bool) *topology {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mu.groups[name]
	if g == nil {
		if !join || s.mu.closed {
			return nil
		}
		g = &group{name: name, members: map[string]*member{}, target: map[string]assignment{}}
		s.mu.groups[name] = g
	}
	if t != nil && (g.topology == nil || t.epoch > g.topology.epoch) {
		g.topology, g.conf = t, configured{}
		g.epoch++
	}
	return g.topology
}

// configureCreating configures a topology, creating the internal topics
// it lacks; those it cannot create leave it MISSING_INTERNAL_TOPICS.
func (s *Service) configureCreating(ctx context.Context, t *topology) configured {
	conf := configure(t, s.env.Topics)
	if len(conf.create) == 0 {
		return conf
	}
	names := make([]string, 0, len(conf.create))
	for _, nt := range conf.create {
		names = append(names, nt.Name)
	}
	s.log.Info("creating internal topics of a streams group", "topics", names)
	errs := s.env.CreateTopics(ctx, conf.create)
	conf = configure(t, s.env.Topics)
	if len(conf.create) == 0 {
		return conf
	}
	var missing []string
	for _, nt := range conf.create {
		detail := nt.Name
		if e := errs[nt.Name]; e != "" {
			detail += " (" + e + ")"
		}
		missing = append(missing, detail)
	}
	return notConfigured(statusMissingInternalTopics, "Internal topics are missing: "+strings.Join(missing, ", "))
}

// updateMember records what the heartbeat says of the member; a field
// left null is unchanged. A new process moves the member's tasks, so it
// bumps the group epoch.
func (s *Service) updateMember(g *group, m *member, r *kmsg.StreamsGroupHeartbeatRequest, clientID, clientHost string) {
	m.clientID, m.clientHost = clientID, clientHost
	if r.ProcessID != nil && *r.ProcessID != m.process {
		m.process = *r.ProcessID
		if r.MemberEpoch != 0 {
			g.epoch++
		}
	}
	if r.InstanceID != nil {
		m.instanceID = r.InstanceID
	}
	if r.RackID != nil {
		m.rack = r.RackID
	}
	if r.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	}
	if r.Topology != nil {
		m.topologyEpoch = r.Topology.Epoch
	}
	if r.UserEndpoint != nil {
		ep := kmsg.NewEndpoint()
		ep.Host, ep.Port = r.UserEndpoint.Host, r.UserEndpoint.Port
		if m.endpoint == nil || m.endpoint.Host != ep.Host || m.endpoint.Port != ep.Port {
			m.endpoint = &ep
			g.endpointEpoch++
		}
	}
	if r.ClientTags != nil {
		m.clientTags = map[string]string{}
		for _, t := range r.ClientTags {
			m.clientTags[t.Key] = t.Value
		}
	}
	if r.TaskOffsets != nil {
		m.taskOffsets = r.TaskOffsets
	}
	if r.TaskEndOffsets != nil {
		m.taskEndOffsets = r.TaskEndOffsets
	}
	if r.ActiveTasks != nil {
		m.owned.active = setOf(r.ActiveTasks)
	}
	if r.StandbyTasks != nil {
		m.owned.standby = setOf(r.StandbyTasks)
	}
	if r.WarmupTasks != nil {
		m.owned.warmup = setOf(r.WarmupTasks)
	}
	if r.ShutdownApplication && !g.shutdown {
		s.log.Info("a streams group member asked its application to shut down", "group", g.name, "member", m.id)
		g.shutdown = true
	}
}

// statuses are the conditions a member is told of.
func (g *group) statuses(m *member) []kmsg.StreamsGroupHeartbeatResponseStatus {
	var out []kmsg.StreamsGroupHeartbeatResponseStatus
	add := func(code int8, detail string) {
		st := kmsg.NewStreamsGroupHeartbeatResponseStatus()
		st.StatusCode, st.StatusDetail = code, detail
		out = append(out, st)
	}
	if g.topology != nil && m.topologyEpoch < g.topology.epoch {
		add(statusStaleTopology, fmt.Sprintf("the member's topology epoch %d is older than the group's %d", m.topologyEpoch, g.topology.epoch))
	}
	if g.conf.status != nil {
		out = append(out, *g.conf.status)
	}
	if g.shutdown {
		add(statusShutdownApplication, "a member of the group asked for the application to shut down")
	}
	return out
}

// endpoints is the Interactive Queries map: each member with a user
// endpoint and the partitions its active and standby tasks read.
func (g *group) endpoints() []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpoint {
	out := []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpoint{}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		if m.endpoint == nil {
			continue
		}
		e := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpoint()
		e.UserEndpoint = *m.endpoint
		for _, tp := range g.partitionsOf(m.current.active) {
			ap := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpointActivePartition()
			ap.Topic, ap.Partitions = tp.topic, tp.parts
			e.ActivePartitions = append(e.ActivePartitions, ap)
		}
		standby := maps.Clone(m.current.standby)
		maps.Copy(standby, m.current.warmup)
		for _, tp := range g.partitionsOf(standby) {
			sp := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpointStandbyPartition()
			sp.Topic, sp.Partitions = tp.topic, tp.parts
			e.StandbyPartitions = append(e.StandbyPartitions, sp)
		}
		out = append(out, e)
	}
	return out
}

type topicParts struct {
	topic string
	parts []int32
}

// partitionsOf lists the input partitions of tasks, by topic.
func (g *group) partitionsOf(ts taskSet) []topicParts {
	by := map[string][]int32{}
	for _, t := range ts.sorted() {
		for _, in := range g.conf.inputs[t.sub] {
			by[in] = append(by[in], t.part)
		}
	}
	var out []topicParts
	for _, topic := range slices.Sorted(maps.Keys(by)) {
		ps := by[topic]
		slices.Sort(ps)
		out = append(out, topicParts{topic, slices.Compact(ps)})
	}
	return out
}

// touch restarts the member's session.
func (s *Service) touch(g *group, m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	name := g.name
	timeout := m.sessionTimeout
	if timeout <= 0 {
		timeout = s.cfg.SessionTimeout
	}
	m.session = s.clock.AfterFunc(timeout, func() { s.expire(name, m, "its session timed out") })
}

// armRevocation gives a member its rebalance timeout to give up tasks.
func (s *Service) armRevocation(g *group, m *member) {
	if m.revokeTime != nil {
		m.revokeTime.Stop()
	}
	d := m.rebalanceTimeout
	if d <= 0 {
		d = defaultRebalanceTimeout
	}
	name := g.name
	m.revokeTime = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		still := !m.revoking.empty()
		s.mu.Unlock()
		if still {
			s.expire(name, m, "it did not give up its tasks within its rebalance timeout")
		}
	})
}

// expire removes a member if it is still the one the timer was set for.
func (s *Service) expire(name string, m *member, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mu.groups[name]
	if g == nil || g.members[m.id] != m {
		return
	}
	s.log.Info("streams group member removed", "group", name, "member", m.id, "reason", why)
	s.removeLocked(g, m)
	s.storeLater(g, s.changeLocked(g))
}

// removeLocked removes a member; its tasks are free at once.
func (s *Service) removeLocked(g *group, m *member) {
	m.stopTimers()
	delete(g.members, m.id)
	g.epoch++
	if len(g.members) == 0 {
		g.shutdown = false
	}
}
