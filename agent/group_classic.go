package agent

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// join handles a JoinGroup on the group goroutine. It returns a channel
// that receives the response, at once or when the join phase completes.
func (g *group) join(r *kmsg.JoinGroupRequest, clientID, clientHost string) chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	fail := func(code int16, memberID string) chan *kmsg.JoinGroupResponse {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = code, memberID, -1
		ch <- resp
		return ch
	}
	session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	if r.Version == 0 {
		rebalance = session
	}
	switch {
	case session < minSessionTimeout || session > maxSessionTimeout:
		return fail(kerr.InvalidSessionTimeout.Code, r.MemberID)
	case r.ProtocolType == "" || len(r.Protocols) == 0:
		return fail(kerr.InconsistentGroupProtocol.Code, r.MemberID)
	case g.state == groupDead:
		return fail(kerr.CoordinatorNotAvailable.Code, r.MemberID)
	case g.hasConsumers():
		return fail(kerr.InconsistentGroupProtocol.Code, r.MemberID)
	case len(g.members) > 0 && (r.ProtocolType != g.protocolType || !g.supportsAny(r.Protocols)):
		return fail(kerr.InconsistentGroupProtocol.Code, r.MemberID)
	}

	m := g.members[r.MemberID]
	switch {
	case r.MemberID == "" && r.InstanceID != nil:
		// A static member (KIP-345) (re)joining: it takes over the
		// member with its instance id, fencing the old one.
		if old := g.staticMember(*r.InstanceID); old != nil {
			g.removeMember(old, kerr.FencedInstanceID.Code)
		}
		m = &member{id: newMemberID(clientID), instanceID: r.InstanceID}
	case r.MemberID == "" && r.Version >= 4:
		// KIP-394: hand out an id and make the client join again with
		// it, so a client that never comes back costs nothing.
		id := newMemberID(clientID)
		g.pending[id] = g.after(session, func() { delete(g.pending, id) })
		return fail(kerr.MemberIDRequired.Code, id)
	case r.MemberID == "":
		m = &member{id: newMemberID(clientID)}
	case m == nil:
		t, ok := g.pending[r.MemberID]
		if !ok {
			return fail(kerr.UnknownMemberID.Code, r.MemberID)
		}
		t.Stop()
		delete(g.pending, r.MemberID)
		m = &member{id: r.MemberID, instanceID: r.InstanceID}
	case r.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *r.InstanceID):
		return fail(kerr.FencedInstanceID.Code, r.MemberID)
	}
	if _, known := g.members[m.id]; !known {
		g.members[m.id] = m
		g.joinOrder = append(g.joinOrder, m.id)
	}
	if m.join != nil {
		// A retried join replaces the one still waiting.
		resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = kerr.RebalanceInProgress.Code, m.id, -1
		m.join <- resp
	}
	m.clientID, m.clientHost = clientID, clientHost
	m.sessionTimeout, m.rebalanceTimeout = session, rebalance
	m.protocolType, m.protocols = r.ProtocolType, r.Protocols
	m.join, m.joinReq = ch, r
	if m.session != nil {
		m.session.Stop() // a member in the join phase is bound by the rebalance timeout instead
	}
	if g.idle != nil {
		g.idle.Stop()
	}
	g.protocolType = r.ProtocolType

	switch g.state {
	case groupEmpty, groupStable, groupCompletingRebalance:
		g.prepareRebalance()
	case groupPreparingRebalance:
		g.maybeCompleteJoin()
	}
	return ch
}

// supportsAny reports whether one of protocols is supported by every
// member, as a new member's must be.
func (g *group) supportsAny(protocols []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (m *member) supports(protocol string) bool {
	return slices.ContainsFunc(m.protocols, func(p kmsg.JoinGroupRequestProtocol) bool { return p.Name == protocol })
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (g *group) staticMember(instanceID string) *member {
	for _, m := range g.members {
		if m.instanceID != nil && *m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// prepareRebalance starts a join phase: every member must join again
// within the rebalance timeout. A group that was empty first waits the
// initial delay, so members starting together land in one generation.
func (g *group) prepareRebalance() {
	wasEmpty := g.state == groupEmpty
	g.state = groupPreparingRebalance
	for _, m := range g.members {
		if m.sync != nil {
			resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			m.sync <- resp
			m.sync, m.syncReq = nil, nil
		}
	}
	var timeout time.Duration
	for _, m := range g.members {
		timeout = max(timeout, m.rebalanceTimeout)
	}
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	g.rebalanceEnd = time.Now().Add(timeout)
	g.phase++
	if wasEmpty && g.gs.initialDelay > 0 {
		g.delaying = true
		g.rebalance = g.after(min(g.gs.initialDelay, timeout), g.completeJoinOf(g.phase))
		return
	}
	g.rebalance = g.after(timeout, g.completeJoinOf(g.phase))
	g.maybeCompleteJoin()
}

// maybeCompleteJoin ends the join phase early once every member has
// joined. During the initial delay of a group that was empty it instead
// waits on, restarting the delay for each new member (up to the rebalance
// timeout), as Kafka does.
func (g *group) maybeCompleteJoin() {
	if g.state != groupPreparingRebalance {
		return
	}
	if g.delaying {
		if left := time.Until(g.rebalanceEnd); left > 0 {
			g.rebalance.Stop()
			g.rebalance = g.after(min(g.gs.initialDelay, left), g.completeJoinOf(g.phase))
		}
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoinOf returns a timer callback that completes the join phase
// numbered phase, and nothing if a later phase has begun: a timer that
// fired as it was being stopped must not cut short the next phase.
func (g *group) completeJoinOf(phase int) func() {
	return func() {
		if g.phase == phase {
			g.completeJoin()
		}
	}
}

// completeJoin ends the join phase: members that did not join are dropped,
// a protocol is chosen, the generation advances and every joined member is
// answered, the leader with the members' metadata.
func (g *group) completeJoin() {
	if g.state != groupPreparingRebalance {
		return
	}
	g.delaying = false
	if g.rebalance != nil {
		g.rebalance.Stop()
		g.rebalance = nil
	}
	for _, m := range g.members {
		if m.join == nil {
			g.removeMember(m, 0)
		}
	}
	if len(g.members) == 0 {
		g.becomeEmpty()
		return
	}
	g.protocol = g.chooseProtocol()
	g.generation++
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ""
		for _, id := range g.joinOrder {
			if _, ok := g.members[id]; ok {
				g.leader = id
				break
			}
		}
	}
	g.state = groupCompletingRebalance
	for _, m := range g.members {
		resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.Generation, resp.MemberID, resp.LeaderID = g.generation, m.id, g.leader
		protocolType, protocol := g.protocolType, g.protocol
		resp.ProtocolType, resp.Protocol = &protocolType, &protocol
		if m.id == g.leader {
			for _, id := range g.joinOrder {
				other, ok := g.members[id]
				if !ok {
					continue
				}
				rm := kmsg.NewJoinGroupResponseMember()
				rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = other.id, other.instanceID, other.metadata(g.protocol)
				resp.Members = append(resp.Members, rm)
			}
		}
		m.join <- resp
		m.join, m.joinReq = nil, nil
		g.touch(m)
	}
}

// chooseProtocol picks the protocol every member supports that most
// members list first, as Kafka does (ties go to the first member's order).
func (g *group) chooseProtocol() string {
	var candidates []string
	for _, id := range g.joinOrder {
		m, ok := g.members[id]
		if !ok {
			continue
		}
		for _, p := range m.protocols {
			if !slices.Contains(candidates, p.Name) {
				candidates = append(candidates, p.Name)
			}
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, c := range candidates {
		if g.allSupport(c) && votes[c] > bestVotes {
			best, bestVotes = c, votes[c]
		}
	}
	return best
}

func (g *group) allSupport(protocol string) bool {
	for _, m := range g.members {
		if !m.supports(protocol) {
			return false
		}
	}
	return true
}

// touch restarts a member's session timer: a heartbeat, join or sync.
func (g *group) touch(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	m.sessionSeq++
	seq := m.sessionSeq
	m.session = g.after(m.sessionTimeout, func() {
		if g.members[m.id] != m || m.join != nil || m.sessionSeq != seq {
			return // gone, waiting in a join phase (bound by its timeout), or touched since
		}
		g.gs.a.log.Info("group member session expired", "group", g.name, "member", m.id)
		g.removeMember(m, kerr.UnknownMemberID.Code)
		g.afterMembershipChange()
	})
}

// removeMember drops a member, answering any request it has waiting with
// code (0: not answered, the caller does).
func (g *group) removeMember(m *member, code int16) {
	if m.session != nil {
		m.session.Stop()
	}
	if m.join != nil {
		resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = max(code, kerr.UnknownMemberID.Code), m.id, -1
		m.join <- resp
		m.join = nil
	}
	if m.sync != nil {
		resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = max(code, kerr.UnknownMemberID.Code)
		m.sync <- resp
		m.sync = nil
	}
	delete(g.members, m.id)
	g.joinOrder = slices.DeleteFunc(g.joinOrder, func(id string) bool { return id == m.id })
}

// afterMembershipChange starts a rebalance, or empties the group, after a
// member left or expired.
func (g *group) afterMembershipChange() {
	switch {
	case len(g.members) == 0 && g.state != groupPreparingRebalance:
		g.becomeEmpty()
	case g.state == groupStable || g.state == groupCompletingRebalance:
		g.prepareRebalance()
	case g.state == groupPreparingRebalance:
		g.maybeCompleteJoin()
	}
}

func (g *group) becomeEmpty() {
	g.state = groupEmpty
	g.leader, g.protocol = "", ""
	g.generation++ // commits from the last generation are now stale
	g.armIdle()
}

// sync handles a SyncGroup on the group goroutine.
func (g *group) sync(r *kmsg.SyncGroupRequest) chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	m := g.members[r.MemberID]
	switch {
	case m == nil:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	case r.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *r.InstanceID):
		resp.ErrorCode = kerr.FencedInstanceID.Code
	case r.Generation != g.generation:
		resp.ErrorCode = kerr.IllegalGeneration.Code
	case r.ProtocolType != nil && *r.ProtocolType != g.protocolType,
		r.Protocol != nil && *r.Protocol != g.protocol:
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
	case g.state == groupPreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case g.state == groupStable:
		resp.MemberAssignment = m.assignment
		g.touch(m)
	case g.state == groupCompletingRebalance:
		g.touch(m)
		if m.sync != nil {
			old := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
			old.ErrorCode = kerr.RebalanceInProgress.Code
			m.sync <- old
		}
		m.sync, m.syncReq = ch, r
		if m.id == g.leader {
			g.completeSync(r.GroupAssignment)
		}
		return ch
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	g.fillSyncProtocol(resp)
	ch <- resp
	return ch
}

// completeSync stores the leader's assignment and answers every member
// waiting in SyncGroup; the group is stable.
func (g *group) completeSync(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range assignments {
		if m, ok := g.members[a.MemberID]; ok {
			m.assignment = a.MemberAssignment
		}
	}
	g.state = groupStable
	for _, m := range g.members {
		if m.sync == nil {
			continue
		}
		resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.MemberAssignment = m.assignment
		g.fillSyncProtocol(resp)
		m.sync <- resp
		m.sync, m.syncReq = nil, nil
	}
}

func (g *group) fillSyncProtocol(resp *kmsg.SyncGroupResponse) {
	if resp.ErrorCode == 0 && resp.Version >= 5 {
		pt, p := g.protocolType, g.protocol
		resp.ProtocolType, resp.Protocol = &pt, &p
	}
}

// heartbeat handles a Heartbeat on the group goroutine.
func (g *group) heartbeat(r *kmsg.HeartbeatRequest) int16 {
	m := g.members[r.MemberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case r.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *r.InstanceID):
		return kerr.FencedInstanceID.Code
	case r.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	g.touch(m)
	if g.state == groupPreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// leave handles one member of a LeaveGroup on the group goroutine.
func (g *group) leave(memberID string, instanceID *string) int16 {
	var m *member
	switch {
	case instanceID != nil:
		m = g.staticMember(*instanceID)
		if m != nil && memberID != "" && m.id != memberID {
			return kerr.FencedInstanceID.Code
		}
	default:
		m = g.members[memberID]
	}
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	g.removeMember(m, kerr.UnknownMemberID.Code)
	g.afterMembershipChange()
	return 0
}

// checkCommit says whether a member may commit offsets now.
func (g *group) checkCommit(memberID string, instanceID *string, generation int32) int16 {
	if g.hasConsumers() {
		return g.checkConsumerCommit(memberID, generation)
	}
	if generation < 0 && memberID == "" {
		// A commit from outside the group (admin tools, manual
		// assignment) is only allowed while nobody consumes.
		if len(g.members) > 0 {
			return kerr.UnknownMemberID.Code
		}
		return 0
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case instanceID != nil && (m.instanceID == nil || *m.instanceID != *instanceID):
		return kerr.FencedInstanceID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	case g.state == groupCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	g.touch(m)
	return 0
}

// shutdown answers everything waiting with NOT_COORDINATOR.
func (g *group) shutdown() {
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
		}
		if m.join != nil {
			resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.MemberID, resp.Generation = kerr.NotCoordinator.Code, m.id, -1
			m.join <- resp
			m.join = nil
		}
		if m.sync != nil {
			resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			m.sync <- resp
			m.sync = nil
		}
	}
	for _, t := range g.pending {
		t.Stop()
	}
	if g.cg != nil {
		for _, m := range g.cg.members {
			if m.session != nil {
				m.session.Stop()
			}
		}
	}
	for _, t := range []*time.Timer{g.rebalance, g.idle} {
		if t != nil {
			t.Stop()
		}
	}
	g.state = groupDead
}
