package sharegroups

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// sgroup is a share group's membership at its coordinator. With durable
// membership (Env.Claim set; store.go) every change is stored in the
// journal and a coordinator that takes over resumes the group; without it
// the group lives in memory only, and a new coordinator answers the
// members' next heartbeat UNKNOWN_MEMBER_ID, after which they join again
// with the same member ids, as Kafka's share consumer does. The
// share-partitions' state is in the journal either way. Guarded by
// Service.mu.
type sgroup struct {
	name    string
	epoch   int32 // group epoch: bumped by every change of membership or topics
	members map[string]*smember
	// topicsSeen fingerprints the subscribed topics' partition counts, so
	// a new partition or topic is assigned at the next heartbeat.
	topicsSeen string
	// target is each member's assignment at the group epoch.
	target map[string][]tp
	// version is the version of the last store taken, stored its content
	// (store.go).
	version int64
	stored  []byte
}

type tp struct {
	topic     string
	partition int32
}

type smember struct {
	id, clientID, clientHost string
	rack                     *string
	epoch, prevEpoch         int32
	subscribed               []string // sorted
	assigned                 []tp
	timer                    clock.Timer
}

func (g *sgroup) stopTimers() {
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
}

// maxGroupSize is group.share.max.size, Kafka's default.
const maxGroupSize = 200

// Heartbeat serves ShareGroupHeartbeat: join (epoch 0), leave (-1), or
// heartbeat at the member's epoch (or the one before, if the response
// that moved it was lost). The assignment is computed here (the simple
// assignor: every partition of the subscribed topics to at least one
// member, and each member to at least one partition, many members sharing
// a partition when they outnumber it) and sent when it changed or when
// the member sent its subscription.
//
// A heartbeat that changed the group is answered once the change is
// stored, when membership is durable (store.go); ctx bounds the wait.
func (s *Service) Heartbeat(ctx context.Context, r *kmsg.ShareGroupHeartbeatRequest, clientID, clientHost string) *kmsg.ShareGroupHeartbeatResponse {
	s.resume(ctx, r.GroupID)
	resp, g, st := s.heartbeat(r, clientID, clientHost)
	if code := s.storeMembers(ctx, g, st); code != 0 {
		failed := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
		failed.ErrorCode = code
		return failed
	}
	return resp
}

// heartbeat applies a heartbeat; it returns the response, and the group
// and the store recording what changed, if anything did.
func (s *Service) heartbeat(r *kmsg.ShareGroupHeartbeatRequest, clientID, clientHost string) (_ *kmsg.ShareGroupHeartbeatResponse, g *sgroup, st *journal.StoreShareGroup) {
	resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	fail := func(code int16, msg string) (*kmsg.ShareGroupHeartbeatResponse, *sgroup, *journal.StoreShareGroup) {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp, nil, nil
	}
	switch {
	case r.GroupID == "":
		return fail(kerr.InvalidGroupID.Code, "")
	case r.MemberID == "" || len(r.MemberID) > 36:
		return fail(kerr.InvalidRequest.Code, "member id must be 1 to 36 characters")
	case !s.env.OwnsGroup(r.GroupID):
		return fail(kerr.NotCoordinator.Code, "")
	case s.otherType(r.GroupID):
		return fail(kerr.GroupIDNotFound.Code, fmt.Sprintf("group %s is not a share group", r.GroupID))
	case r.MemberEpoch == 0 && len(r.SubscribedTopicNames) == 0:
		return fail(kerr.InvalidRequest.Code, "a joining member must subscribe to topics")
	}
	set := s.settings(r.GroupID)
	resp.HeartbeatIntervalMillis = int32(set.heartbeat / time.Millisecond)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Runs before the unlock: whatever the heartbeat changed is stored.
	defer func() { st = s.changeLocked(g) }()
	if s.mu.closed {
		return fail(kerr.NotCoordinator.Code, "")
	}
	g = s.lookupLocked(r.GroupID)
	if g == nil {
		if r.MemberEpoch != 0 {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		g = &sgroup{name: r.GroupID, members: map[string]*smember{}}
		s.mu.groups[r.GroupID] = g
	}
	m := g.members[r.MemberID]
	switch {
	case r.MemberEpoch == -1:
		if m == nil {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		s.removeMemberLocked(g, m)
		resp.MemberID, resp.MemberEpoch = &r.MemberID, -1
		return resp, g, nil
	case r.MemberEpoch == 0:
		if m == nil {
			if len(g.members) >= maxGroupSize {
				return fail(kerr.GroupMaxSizeReached.Code, "")
			}
			m = &smember{id: r.MemberID}
			g.members[m.id] = m
			g.epoch++
		}
	case m == nil:
		return fail(kerr.UnknownMemberID.Code, "")
	case r.MemberEpoch != m.epoch && r.MemberEpoch != m.prevEpoch:
		return fail(kerr.FencedMemberEpoch.Code, "")
	}
	m.clientID, m.clientHost = clientID, clientHost
	if r.RackID != nil {
		m.rack = r.RackID
	}
	if r.SubscribedTopicNames != nil {
		subs := slices.Clone(r.SubscribedTopicNames)
		slices.Sort(subs)
		subs = slices.Compact(subs)
		if !slices.Equal(subs, m.subscribed) {
			m.subscribed = subs
			g.epoch++
		}
	}
	s.assignLocked(g)
	before := m.epoch
	if m.epoch != g.epoch {
		m.prevEpoch, m.epoch = m.epoch, g.epoch
		m.assigned = g.target[m.id]
	}
	s.touchLocked(g, m, set.sessionTimeout)
	resp.MemberID, resp.MemberEpoch = &r.MemberID, m.epoch
	if r.SubscribedTopicNames != nil || m.epoch != before || r.MemberEpoch == 0 {
		resp.Assignment = s.assignmentOf(m.assigned)
	}
	return resp, g, nil
}

// touchLocked restarts the member's session timer.
func (s *Service) touchLocked(g *sgroup, m *smember, timeout time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer = s.clock.AfterFunc(timeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if g.members[m.id] == m && s.mu.groups[g.name] == g {
			s.log.Info("share group member's session expired", "group", g.name, "member", m.id)
			s.removeMemberLocked(g, m)
			s.storeLater(g, s.changeLocked(g))
		}
	})
}

func (s *Service) removeMemberLocked(g *sgroup, m *smember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	delete(g.members, m.id)
	g.epoch++
	s.assignLocked(g)
	if len(g.members) == 0 {
		delete(s.mu.groups, g.name)
	}
}

// otherType reports whether the name belongs to a classic or consumer
// group (its offsets or membership are in the journal).
func (s *Service) otherType(group string) bool {
	other := false
	s.env.Journal.View(func(js *journal.State) {
		_, committed := js.Groups[group]
		_, stored := js.GroupMeta[group]
		other = committed || stored
	})
	return other
}

// assignLocked recomputes the group's target assignment when its members,
// their subscriptions or the subscribed topics' partitions changed.
func (s *Service) assignLocked(g *sgroup) {
	topics := map[string]bool{}
	for _, m := range g.members {
		for _, t := range m.subscribed {
			topics[t] = true
		}
	}
	parts := map[string]int32{}
	var seen strings.Builder
	s.env.Journal.View(func(js *journal.State) {
		for _, t := range slices.Sorted(maps.Keys(topics)) {
			if tt := js.Topic(t); tt != nil {
				parts[t] = int32(len(tt.Partitions))
				fmt.Fprintf(&seen, "%s:%s:%d;", t, tt.ID, len(tt.Partitions))
			}
		}
	})
	if seen.String() != g.topicsSeen {
		g.topicsSeen = seen.String()
		g.epoch++
	}
	target := map[string][]tp{}
	for _, t := range slices.Sorted(maps.Keys(parts)) {
		var subs []string
		for _, id := range slices.Sorted(maps.Keys(g.members)) {
			if slices.Contains(g.members[id].subscribed, t) {
				subs = append(subs, id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n := int(parts[t])
		rot := int(topicHash(t) % uint32(len(subs)))
		if len(subs) <= n {
			for p := 0; p < n; p++ {
				id := subs[(p+rot)%len(subs)]
				target[id] = append(target[id], tp{t, int32(p)})
			}
		} else {
			for j, id := range subs {
				target[id] = append(target[id], tp{t, int32((j + rot) % n)})
			}
		}
	}
	g.target = target
}

func topicHash(t string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(t))
	return h.Sum32()
}

// assignmentOf renders an assignment by topic id.
func (s *Service) assignmentOf(parts []tp) *kmsg.ShareGroupHeartbeatResponseAssignment {
	a := kmsg.NewShareGroupHeartbeatResponseAssignment()
	a.TopicPartitions = []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}
	byTopic := map[string][]int32{}
	for _, p := range parts {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	s.env.Journal.View(func(js *journal.State) {
		for _, t := range slices.Sorted(maps.Keys(byTopic)) {
			tt := js.Topic(t)
			if tt == nil {
				continue
			}
			at := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			at.TopicID = tt.ID
			at.Partitions = slices.SortedFunc(slices.Values(byTopic[t]), cmp.Compare[int32])
			a.TopicPartitions = append(a.TopicPartitions, at)
		}
	})
	return &a
}
