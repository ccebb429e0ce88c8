package agent

import (
	"context"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// shareRead is the read path share groups use (sharegroups.Env.Read): the
// committed batches of a partition from the one holding offset from,
// about maxBytes of them and at least one, read and patched as Fetch
// reads them (cache, else the bucket).
func (a *Agent) shareRead(ctx context.Context, topic string, partition int32, from int64, maxBytes int) ([]byte, int16) {
	var plan fetchPlan
	a.journal.View(func(s *journal.State) { plan = a.planFetch(s, topic, partition, from, maxBytes) })
	if plan.code != 0 {
		return nil, plan.code
	}
	parts, size, code := a.readPlan(ctx, plan, from, maxBytes, true)
	if len(parts) == 1 {
		return parts[0], code
	}
	out := make([]byte, 0, size)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, code
}

// ownsPartition reports whether this agent serves a partition's
// share-partitions: the partition's owner among all agents, whatever a
// client's zone, so that each share-partition has one owner. An agent
// that is shutting down owns none.
func (a *Agent) ownsPartition(topic string, partition int32) bool {
	return !a.leaving.Load() && owner(a.cluster.members(), partitionKey(topic, partition)).Name == a.cfg.NodeName
}

// shareCoordinator returns the agent that keeps a share-partition's state,
// for a FindCoordinator key "group:topicId:partition".
func (a *Agent) shareCoordinator(key, listener string) (kmsg.MetadataResponseBroker, bool) {
	rest, part, ok := cutLast(key, ':')
	if !ok {
		return kmsg.MetadataResponseBroker{}, false
	}
	_, id, ok := cutLast(rest, ':')
	p, err := strconv.ParseInt(part, 10, 32)
	if !ok || err != nil {
		return kmsg.MetadataResponseBroker{}, false
	}
	var tid journal.TopicID
	if tid.UnmarshalText([]byte(id)) != nil {
		return kmsg.MetadataResponseBroker{}, false
	}
	name := ""
	a.journal.View(func(s *journal.State) {
		if t := s.TopicByID(tid); t != nil && s.Partition(t.Name, int32(p)) != nil {
			name = t.Name
		}
	})
	if name == "" {
		return kmsg.MetadataResponseBroker{}, false
	}
	return broker(owner(a.cluster.members(), partitionKey(name, int32(p))), listener), true
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
