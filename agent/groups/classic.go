package groups

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
)

// The classic protocol's state machine. Every function here runs on the
// group goroutine.

// join handles a JoinGroup. It returns a channel that receives the
// response, at once or when the join phase completes.
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
		if old := g.staticMember(*r.InstanceID); old != nil {
			// A static member (KIP-345) back under a new member id.
			return g.rejoinStatic(old, r, clientID, clientHost, session, rebalance, ch)
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
	case r.InstanceID != nil:
		if code := g.checkStatic(r.MemberID, r.InstanceID); code != 0 {
			return fail(code, r.MemberID)
		}
	case m == nil:
		t, ok := g.pending[r.MemberID]
		if !ok {
			return fail(kerr.UnknownMemberID.Code, r.MemberID)
		}
		t.Stop()
		delete(g.pending, r.MemberID)
		m = &member{id: r.MemberID}
	}
	if _, known := g.members[m.id]; !known {
		g.members[m.id] = m
		g.joinOrder = append(g.joinOrder, m.id)
	} else if resp := g.rejoinUnchanged(m, r); resp != nil {
		g.touch(m)
		ch <- resp
		return ch
	}
	if m.join != nil {
		// A retried join replaces the one still waiting.
		resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = kerr.RebalanceInProgress.Code, m.id, -1
		m.join <- resp
	}
	g.updateMember(m, r, clientID, clientHost, session, rebalance)
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

// rejoinUnchanged answers a known member that joins again with the
// metadata it had, as Kafka does: in a Stable group a follower is simply
// given the current generation (it goes on to SyncGroup and gets its
// assignment), and in CompletingRebalance any member, the leader with the
// members' metadata. A client that lost its session (a heartbeat that could
// not reach a coordinator that died) thus rejoins without a rebalance. A
// leader rejoining a Stable group, or changed metadata, is nil: the group
// rebalances, as on Kafka (the leader may have seen topic changes).
func (g *group) rejoinUnchanged(m *member, r *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	if m.join != nil || r.ProtocolType != m.protocolType || !sameProtocols(m, r.Protocols, g.protocol) {
		return nil
	}
	switch {
	case g.state == groupStable && m.id != g.leader:
	case g.state == groupCompletingRebalance && !g.storing:
	default:
		return nil
	}
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation, resp.MemberID, resp.LeaderID = g.generation, m.id, g.leader
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	if m.id == g.leader {
		resp.Members = g.joinMembers()
	}
	return resp
}

// sameProtocols reports whether a rejoin offers the group's protocol with
// the metadata the member had for it.
func sameProtocols(m *member, protocols []kmsg.JoinGroupRequestProtocol, chosen string) bool {
	for _, p := range protocols {
		if p.Name == chosen {
			return bytes.Equal(p.Metadata, m.metadata(chosen))
		}
	}
	return false
}

func (g *group) updateMember(m *member, r *kmsg.JoinGroupRequest, clientID, clientHost string, session, rebalance time.Duration) {
	m.clientID, m.clientHost = clientID, clientHost
	m.sessionTimeout, m.rebalanceTimeout = session, rebalance
	m.protocolType, m.protocols = r.ProtocolType, r.Protocols
}

// rejoinStatic handles a JoinGroup with a known group.instance.id and no
// member id (KIP-345): the instance restarted. It takes its old member's
// place under a new id, fencing the old one. In a Stable group whose
// protocol stays the same, that is all, as in Kafka: the member gets the
// current generation and, in SyncGroup, its old assignment; nobody
// rebalances. The change is stored before the member is answered.
func (g *group) rejoinStatic(old *member, r *kmsg.JoinGroupRequest, clientID, clientHost string, session, rebalance time.Duration, ch chan *kmsg.JoinGroupResponse) chan *kmsg.JoinGroupResponse {
	oldLeader := g.leader
	m := g.replaceMember(old, newMemberID(clientID))
	g.updateMember(m, r, clientID, clientHost, session, rebalance)
	g.protocolType = r.ProtocolType
	switch g.state {
	case groupStable:
		if g.chooseProtocol() != g.protocol {
			m.join, m.joinReq = ch, r
			g.prepareRebalance()
			return ch
		}
		g.touch(m)
		gen := g.generation
		g.persist(func(code int16) {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			if code != 0 {
				resp.ErrorCode, resp.Generation = storeFailure(code), -1
				ch <- resp
				return
			}
			resp.Generation, resp.MemberID = gen, m.id
			pt, p := g.protocolType, g.protocol
			resp.ProtocolType, resp.Protocol = &pt, &p
			resp.LeaderID = oldLeader
			if r.Version >= 9 && g.leader == m.id {
				// The leader learns it leads but keeps the assignment
				// it made: assignors are not idempotent.
				resp.LeaderID, resp.SkipAssignment = m.id, true
				resp.Members = g.joinMembers()
			}
			ch <- resp
		})
	case groupPreparingRebalance:
		m.join, m.joinReq = ch, r
		g.maybeCompleteJoin()
	default:
		// CompletingRebalance: the leader may already be assigning to
		// the old id, so the group rebalances, as Kafka's does.
		m.join, m.joinReq = ch, r
		g.prepareRebalance()
	}
	return ch
}

// replaceMember gives old's place in the group to a new member id: its
// instance, position, leadership and assignment. Requests the old member
// has waiting are answered FENCED_INSTANCE_ID.
func (g *group) replaceMember(old *member, id string) *member {
	g.answerWaiting(old, kerr.FencedInstanceID.Code)
	if old.session != nil {
		old.session.Stop()
	}
	m := &member{id: id, instanceID: old.instanceID, assignment: old.assignment, protocols: old.protocols, protocolType: old.protocolType}
	delete(g.members, old.id)
	g.members[id] = m
	if i := slices.Index(g.joinOrder, old.id); i >= 0 {
		g.joinOrder[i] = id
	}
	if g.leader == old.id {
		g.leader = id
	}
	return m
}

// supportsAny reports whether one of protocols is supported by every
// member, as a new member's must be.
func (g *group) supportsAny(protocols []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range protocols {
		if g.allSupport(p.Name) {
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

// checkStatic validates a request that names a group.instance.id, as
// Kafka does: an instance the group does not know is UNKNOWN_MEMBER_ID; one
// held by another member id (it was replaced by a newer instance) is
// FENCED_INSTANCE_ID, which tells the old instance to stop rather than
// rejoin and fence the new one in turn.
func (g *group) checkStatic(memberID string, instanceID *string) int16 {
	m := g.staticMember(*instanceID)
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case m.id != memberID:
		return kerr.FencedInstanceID.Code
	}
	return 0
}

// validMember returns the member a request names, checking its instance id
// first (checkStatic).
func (g *group) validMember(memberID string, instanceID *string) (*member, int16) {
	if instanceID != nil {
		if code := g.checkStatic(memberID, instanceID); code != 0 {
			return nil, code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	return m, 0
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
	g.rebalanceEnd = g.now().Add(timeout)
	g.phase++
	if delay := g.c.env.InitialRebalanceDelay; wasEmpty && delay > 0 {
		g.delaying = true
		g.rebalance = g.after(min(delay, timeout), g.completeJoinOf(g.phase))
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
		if left := g.rebalanceEnd.Sub(g.now()); left > 0 {
			g.rebalance.Stop()
			g.rebalance = g.after(min(g.c.env.InitialRebalanceDelay, left), g.completeJoinOf(g.phase))
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
			resp.Members = g.joinMembers()
		}
		m.join <- resp
		m.join, m.joinReq = nil, nil
		g.touch(m)
	}
}

// joinMembers lists the members with their metadata for the chosen
// protocol, in join order, for the leader's JoinGroup response.
func (g *group) joinMembers() []kmsg.JoinGroupResponseMember {
	var out []kmsg.JoinGroupResponseMember
	for _, id := range g.joinOrder {
		other, ok := g.members[id]
		if !ok {
			continue
		}
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = other.id, other.instanceID, other.metadata(g.protocol)
		out = append(out, rm)
	}
	return out
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
		g.c.log.Info("group member session expired", "group", g.name, "member", m.id)
		g.removeMember(m, kerr.UnknownMemberID.Code)
		g.afterMembershipChange()
	})
}

// answerWaiting answers a member's waiting JoinGroup and SyncGroup with
// code.
func (g *group) answerWaiting(m *member, code int16) {
	if m.join != nil {
		resp := m.joinReq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.MemberID, resp.Generation = code, m.id, -1
		m.join <- resp
		m.join, m.joinReq = nil, nil
	}
	if m.sync != nil {
		resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		m.sync <- resp
		m.sync, m.syncReq = nil, nil
	}
}

// removeMember drops a member, answering any request it has waiting with
// code (0: UNKNOWN_MEMBER_ID).
func (g *group) removeMember(m *member, code int16) {
	if m.session != nil {
		m.session.Stop()
	}
	g.answerWaiting(m, max(code, kerr.UnknownMemberID.Code))
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

// becomeEmpty leaves the group without members, and stores it so: a new
// coordinator must not resume members that are gone.
func (g *group) becomeEmpty() {
	g.state = groupEmpty
	g.leader, g.protocol = "", ""
	g.generation++ // commits from the last generation are now stale
	g.armIdle()
	g.persist(nil)
}

// sync handles a SyncGroup.
func (g *group) sync(r *kmsg.SyncGroupRequest) chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	m, code := g.validMember(r.MemberID, r.InstanceID)
	switch {
	case code != 0:
		resp.ErrorCode = code
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
		if m.id == g.leader && !g.storing {
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

// completeSync takes the leader's assignment and stores the generation;
// once it is stored the group is stable and every member waiting in
// SyncGroup gets its assignment. If the store fails, the members are told
// so and the group rebalances, as Kafka's does.
func (g *group) completeSync(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range assignments {
		if m, ok := g.members[a.MemberID]; ok {
			m.assignment = a.MemberAssignment
		}
	}
	g.storing = true
	phase := g.phase
	g.persist(func(code int16) {
		g.storing = false
		if g.phase != phase || g.state != groupCompletingRebalance {
			return // a new join phase began meanwhile and answered the waiting syncs
		}
		if code != 0 {
			for _, m := range g.members {
				if m.sync != nil {
					resp := m.syncReq.ResponseKind().(*kmsg.SyncGroupResponse)
					resp.ErrorCode = storeFailure(code)
					m.sync <- resp
					m.sync, m.syncReq = nil, nil
				}
			}
			g.prepareRebalance()
			return
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
	})
}

func (g *group) fillSyncProtocol(resp *kmsg.SyncGroupResponse) {
	if resp.ErrorCode == 0 && resp.Version >= 5 {
		pt, p := g.protocolType, g.protocol
		resp.ProtocolType, resp.Protocol = &pt, &p
	}
}

// heartbeat handles a Heartbeat.
func (g *group) heartbeat(r *kmsg.HeartbeatRequest) int16 {
	m, code := g.validMember(r.MemberID, r.InstanceID)
	switch {
	case code != 0:
		return code
	case r.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	g.touch(m)
	if g.state == groupPreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// leave handles one member of a LeaveGroup.
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

// checkCommit says whether a member may commit offsets now. A commit with
// a negative generation comes from outside the group (admin tools,
// consumers that assign partitions themselves): it is accepted while the
// group has no members, whatever member id it carries, as both of Kafka's
// coordinators accept it.
func (g *group) checkCommit(memberID string, instanceID *string, generation int32) int16 {
	if generation < 0 && g.memberCount() == 0 {
		return 0
	}
	if g.hasConsumers() {
		return g.checkConsumerCommit(memberID, generation)
	}
	if generation < 0 && memberID == "" && instanceID == nil {
		return kerr.UnknownMemberID.Code // the group has members: only they commit
	}
	m, code := g.validMember(memberID, instanceID)
	switch {
	case code != 0:
		return code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	case g.state == groupCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	g.touch(m)
	return 0
}

// shutdown answers everything waiting with NOT_COORDINATOR and stops the
// group's timers.
func (g *group) shutdown() {
	for _, m := range g.members {
		if m.session != nil {
			m.session.Stop()
		}
		g.answerWaiting(m, kerr.NotCoordinator.Code)
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
	for _, t := range []clock.Timer{g.rebalance, g.idle} {
		if t != nil {
			t.Stop()
		}
	}
	g.state = groupDead
}
