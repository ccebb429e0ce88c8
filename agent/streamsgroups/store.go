package streamsgroups

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/claimed"
	"github.com/silt-io/silt/journal"
)

// Durability: a group's membership, topology and assignment are stored in
// the journal (journal.StoreStreamsGroup) whenever they change, under the
// group's claim, and a heartbeat that changed them is answered only once
// the store is applied. A coordinator that finds a group it does not hold
// in memory resumes it from the journal: members keep their epochs and
// tasks, their sessions start afresh. A store that fails drops the group
// from memory, so the next request resumes it from what was stored.

// Journal is the agent's replayed journal, as streams groups read it.
type Journal interface {
	// View calls fn with the state; fn must not keep it or block.
	View(fn func(*journal.State))
	// CatchUp applies the entries in the bucket not applied yet.
	CatchUp(ctx context.Context) (int, error)
}

// durable reports whether groups are stored in the journal.
func (s *Service) durable() bool {
	return s.env.Journal != nil && s.env.Submit != nil && s.env.Claim != nil
}

// lookupLocked returns the group in memory, else resumes it from the
// journal as this agent last applied it; nil if there is none.
func (s *Service) lookupLocked(name string) *group {
	if g := s.mu.groups[name]; g != nil || !s.durable() || s.mu.closed {
		return g
	}
	var meta *journal.StreamsGroupMeta
	s.env.Journal.View(func(js *journal.State) {
		if m := js.StreamsGroups[name]; m != nil {
			c := *m
			meta = &c
		}
	})
	if meta == nil {
		return nil
	}
	g := fromMeta(name, meta)
	if g.topology != nil {
		// Configured at once, so that it is described as it was; a
		// change of the topics since shows at the next heartbeat.
		g.conf = configure(g.topology, s.env.Topics)
	}
	g.stored, _ = json.Marshal(g.toMeta())
	s.mu.groups[name] = g
	for _, m := range g.members {
		s.touch(g, m)
		if !m.revoking.empty() {
			s.armRevocation(g, m)
		}
	}
	s.log.Info("streams group resumed from the journal", "group", name, "members", len(g.members), "epoch", g.epoch)
	return g
}

// resume makes sure a group that moved here is read from the journal as
// its last coordinator left it: the journal is caught up first unless
// the group is in memory already.
func (s *Service) resume(ctx context.Context, name string) {
	if !s.durable() {
		return
	}
	s.mu.Lock()
	inMemory := s.mu.groups[name] != nil
	s.mu.Unlock()
	if inMemory {
		return
	}
	if _, err := s.env.Journal.CatchUp(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("journal catch-up failed", "err", err)
	}
	s.mu.Lock()
	s.lookupLocked(name)
	s.mu.Unlock()
}

// changeLocked returns the store that records the group's state, or nil
// if nothing stored changed since the last store.
func (s *Service) changeLocked(g *group) *journal.StoreStreamsGroup {
	if !s.durable() {
		return nil
	}
	meta := g.toMeta()
	raw, err := json.Marshal(meta)
	if err == nil && slices.Equal(raw, g.stored) {
		return nil
	}
	g.stored = raw
	g.version++
	return &journal.StoreStreamsGroup{Group: g.name, Version: g.version, Meta: meta}
}

// store writes a store under the group's claim and waits for it. On
// failure the group leaves memory (if it is still g) and the code is
// NOT_COORDINATOR, so its members find the coordinator again and it is
// resumed from the journal.
func (s *Service) store(ctx context.Context, g *group, st *journal.StoreStreamsGroup) int16 {
	if st == nil {
		return 0
	}
	code := claimed.Write(ctx, s.env.Claim, s.env.Submit, s.commitTimeout(), st.Group, func(c *journal.GroupClaim) journal.Command {
		st.Claim = c
		return journal.Command{StoreStreamsGroup: st}
	})
	if code == 0 {
		return 0
	}
	s.log.Warn("storing a streams group failed; letting it go", "group", st.Group, "err", kerr.ErrorForCode(code))
	s.mu.Lock()
	if s.mu.groups[st.Group] == g {
		g.stopTimers()
		delete(s.mu.groups, st.Group)
	}
	s.mu.Unlock()
	return kerr.NotCoordinator.Code
}

// storeLater stores a change made by a timer, in the background.
func (s *Service) storeLater(g *group, st *journal.StoreStreamsGroup) {
	if st == nil {
		return
	}
	s.wg.Go(func() { s.store(s.ctx, g, st) })
}

func (s *Service) commitTimeout() time.Duration {
	if s.env.CommitTimeout > 0 {
		return s.env.CommitTimeout
	}
	return 10 * time.Second
}

// toMeta renders the group as the journal stores it.
func (g *group) toMeta() *journal.StreamsGroupMeta {
	m := &journal.StreamsGroupMeta{Epoch: g.epoch, TargetEpoch: g.targetEpoch, EndpointEpoch: g.endpointEpoch, Shutdown: g.shutdown, Standbys: g.standbys}
	if g.topology != nil {
		m.TopologyEpoch = g.topology.epoch
		for _, sub := range g.topology.subs {
			js := journal.StreamsSubtopology{
				ID: sub.id, Sources: sub.sources, SourceRegexes: sub.regexes, RepartitionSinks: sub.repartitionSinks,
				Copartition: sub.copartition, CopartitionRegexes: sub.copartitionRegex,
			}
			for _, t := range sub.repartitionSources {
				js.RepartitionSources = append(js.RepartitionSources, journal.StreamsTopic{Name: t.name, Partitions: t.partitions, Configs: t.configs})
			}
			for _, t := range sub.changelogs {
				js.Changelogs = append(js.Changelogs, journal.StreamsTopic{Name: t.name, Partitions: t.partitions, Configs: t.configs})
			}
			m.Subtopologies = append(m.Subtopologies, js)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(g.members)) {
		mb := g.members[id]
		jm := journal.StreamsMember{
			ID: mb.id, ClientID: mb.clientID, ClientHost: mb.clientHost, Process: mb.process,
			InstanceID: mb.instanceID, Rack: mb.rack, TopologyEpoch: mb.topologyEpoch,
			RebalanceTimeout: mb.rebalanceTimeout.Milliseconds(), ClientTags: mb.clientTags,
			Epoch: mb.epoch, PrevEpoch: mb.prevEpoch,
			Current: mb.current.stored(), Revoking: mb.revoking.stored(), Owned: mb.owned.stored(), Target: g.targetOf(id).stored(),
		}
		if mb.endpoint != nil {
			jm.EndpointHost, jm.EndpointPort = mb.endpoint.Host, mb.endpoint.Port
		}
		m.Members = append(m.Members, jm)
	}
	return m
}

// fromMeta rebuilds a group from the journal. The topology's
// configuration is recomputed at the next heartbeat; until then the
// stored target stands.
func fromMeta(name string, m *journal.StreamsGroupMeta) *group {
	g := &group{
		name: name, epoch: m.Epoch, targetEpoch: m.TargetEpoch, endpointEpoch: m.EndpointEpoch, shutdown: m.Shutdown, standbys: m.Standbys,
		members: map[string]*member{}, target: map[string]assignment{}, version: m.Version, restored: true,
	}
	if len(m.Subtopologies) > 0 {
		t := &topology{epoch: m.TopologyEpoch}
		for _, js := range m.Subtopologies {
			sub := subtopology{
				id: js.ID, sources: js.Sources, regexes: js.SourceRegexes, repartitionSinks: js.RepartitionSinks,
				copartition: js.Copartition, copartitionRegex: js.CopartitionRegexes,
			}
			for len(sub.copartitionRegex) < len(sub.copartition) {
				sub.copartitionRegex = append(sub.copartitionRegex, nil)
			}
			for _, t := range js.RepartitionSources {
				sub.repartitionSources = append(sub.repartitionSources, topicInfo{name: t.Name, partitions: t.Partitions, configs: t.Configs})
			}
			for _, t := range js.Changelogs {
				sub.changelogs = append(sub.changelogs, topicInfo{name: t.Name, partitions: t.Partitions, configs: t.Configs})
			}
			t.subs = append(t.subs, sub)
		}
		g.topology = t
	}
	for _, jm := range m.Members {
		mb := &member{
			id: jm.ID, clientID: jm.ClientID, clientHost: jm.ClientHost, process: jm.Process,
			instanceID: jm.InstanceID, rack: jm.Rack, topologyEpoch: jm.TopologyEpoch,
			rebalanceTimeout: time.Duration(jm.RebalanceTimeout) * time.Millisecond, clientTags: jm.ClientTags,
			epoch: jm.Epoch, prevEpoch: jm.PrevEpoch,
			current: fromStored(jm.Current), revoking: fromStored(jm.Revoking), owned: fromStored(jm.Owned),
		}
		if jm.EndpointHost != "" {
			ep := kmsg.NewEndpoint()
			ep.Host, ep.Port = jm.EndpointHost, jm.EndpointPort
			mb.endpoint = &ep
		}
		g.members[mb.id] = mb
		g.target[mb.id] = fromStored(jm.Target)
	}
	return g
}

func (a assignment) stored() journal.StreamsTasks {
	return journal.StreamsTasks{Active: a.active.stored(), Standby: a.standby.stored(), Warmup: a.warmup.stored()}
}

func (s taskSet) stored() map[string][]int32 {
	if len(s) == 0 {
		return nil
	}
	out := map[string][]int32{}
	for _, t := range s.sorted() {
		out[t.sub] = append(out[t.sub], t.part)
	}
	return out
}

func fromStored(st journal.StreamsTasks) assignment {
	conv := func(m map[string][]int32) taskSet {
		out := taskSet{}
		for sub, parts := range m {
			for _, p := range parts {
				out[taskID{sub, p}] = true
			}
		}
		return out
	}
	return assignment{active: conv(st.Active), standby: conv(st.Standby), warmup: conv(st.Warmup)}
}
