package sharegroups

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/claimed"
	"github.com/silt-io/silt/journal"
)

// Membership durability: when Env.Claim is set, a group's members, epochs,
// subscriptions and assignments are stored in the journal
// (journal.StoreShareGroup) whenever they change, under the group's claim,
// and a heartbeat that changed them is answered once the store is applied.
// A coordinator that does not hold a group in memory resumes it from the
// journal, so after a coordinator moves the members go on at their epochs
// with their assignments instead of joining again. A store that fails
// drops the group from memory, to be resumed as stored.

// durable reports whether membership is stored in the journal.
func (s *Service) durable() bool { return s.env.Claim != nil }

// lookupLocked returns the group in memory, else resumes it from the
// journal as this agent last applied it; nil if there is none.
func (s *Service) lookupLocked(name string) *sgroup {
	if g := s.mu.groups[name]; g != nil || !s.durable() || s.mu.closed {
		return g
	}
	var meta *journal.ShareGroupMeta
	s.env.Journal.View(func(js *journal.State) {
		if m := js.ShareGroupMembers[name]; m != nil {
			c := *m
			meta = &c
		}
	})
	if meta == nil || len(meta.Members) == 0 {
		return nil
	}
	g := &sgroup{name: name, epoch: meta.Epoch, topicsSeen: meta.TopicsSeen, members: map[string]*smember{}, target: map[string][]tp{}, version: meta.Version}
	for _, jm := range meta.Members {
		m := &smember{id: jm.ID, clientID: jm.ClientID, clientHost: jm.ClientHost, rack: jm.Rack,
			epoch: jm.Epoch, prevEpoch: jm.PrevEpoch, subscribed: jm.Subscribed}
		for _, at := range jm.Assigned {
			for _, p := range at.Partitions {
				m.assigned = append(m.assigned, tp{at.Topic, p})
			}
		}
		g.members[m.id] = m
		g.target[m.id] = m.assigned
	}
	g.stored, _ = json.Marshal(g.toMeta())
	s.mu.groups[name] = g
	timeout := s.settings(name).sessionTimeout
	for _, m := range g.members {
		s.touchLocked(g, m, timeout)
	}
	s.log.Info("share group resumed from the journal", "group", name, "members", len(g.members), "epoch", g.epoch)
	return g
}

// resume catches the journal up before a heartbeat for a group not in
// memory, so a group that moved here is read as its last coordinator left
// it.
func (s *Service) resume(ctx context.Context, name string) {
	if !s.durable() {
		return
	}
	s.mu.Lock()
	inMemory := s.mu.groups[name] != nil
	s.mu.Unlock()
	if inMemory || s.env.CatchUp == nil {
		return
	}
	if err := s.env.CatchUp(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("journal catch-up failed", "err", err)
	}
}

// changeLocked returns the store recording the group's membership, nil if
// nothing stored changed. An empty group's store removes it.
func (s *Service) changeLocked(g *sgroup) *journal.StoreShareGroup {
	if !s.durable() || g == nil {
		return nil
	}
	var meta *journal.ShareGroupMeta
	var raw []byte
	if len(g.members) > 0 {
		meta = g.toMeta()
		raw, _ = json.Marshal(meta)
	}
	if raw != nil && slices.Equal(raw, g.stored) || raw == nil && g.stored == nil {
		return nil
	}
	g.stored = raw
	// Versions continue across a group's lives in memory: an empty group
	// leaves memory, and a new one must not be ordered before its removal.
	g.version = max(g.version+1, s.clock.Now().UnixNano())
	return &journal.StoreShareGroup{Group: g.name, Version: g.version, Meta: meta}
}

// storeMembers writes a store under the group's claim and waits for it;
// on failure the group leaves memory and the code is NOT_COORDINATOR.
func (s *Service) storeMembers(ctx context.Context, g *sgroup, st *journal.StoreShareGroup) int16 {
	if st == nil {
		return 0
	}
	code := claimed.Write(ctx, s.env.Claim, s.env.Submit, s.env.CommitTimeout, st.Group, func(c *journal.GroupClaim) journal.Command {
		st.Claim = c
		return journal.Command{StoreShareGroup: st}
	})
	if code == 0 {
		return 0
	}
	s.log.Warn("storing a share group's membership failed; letting it go", "group", st.Group, "err", kerr.ErrorForCode(code))
	s.mu.Lock()
	if s.mu.groups[st.Group] == g {
		g.stopTimers()
		delete(s.mu.groups, st.Group)
	}
	s.mu.Unlock()
	return kerr.NotCoordinator.Code
}

// storeLater stores a change a timer made, in the background.
func (s *Service) storeLater(g *sgroup, st *journal.StoreShareGroup) {
	if st == nil {
		return
	}
	s.wg.Go(func() { s.storeMembers(s.ctx, g, st) })
}

func (g *sgroup) toMeta() *journal.ShareGroupMeta {
	meta := &journal.ShareGroupMeta{Epoch: g.epoch, TopicsSeen: g.topicsSeen}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		m := g.members[id]
		jm := journal.ShareMember{ID: m.id, ClientID: m.clientID, ClientHost: m.clientHost, Rack: m.rack,
			Epoch: m.epoch, PrevEpoch: m.prevEpoch, Subscribed: m.subscribed}
		for _, p := range m.assigned {
			if n := len(jm.Assigned); n > 0 && jm.Assigned[n-1].Topic == p.topic {
				jm.Assigned[n-1].Partitions = append(jm.Assigned[n-1].Partitions, p.partition)
				continue
			}
			jm.Assigned = append(jm.Assigned, journal.TopicPartitions{Topic: p.topic, Partitions: []int32{p.partition}})
		}
		meta.Members = append(meta.Members, jm)
	}
	return meta
}
