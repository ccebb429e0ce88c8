package journal

import (
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Share groups (KIP-932): the durable state of each share-partition.
//
// Kafka keeps a share-partition's state in __share_group_state, written by
// its share coordinator in batches: the share-partition start offset (SPSO,
// below which every record is done), and for the in-flight records after
// it, runs of offsets with their state and delivery count — never a write
// per record fetched. silt keeps the same in the journal. The agent that
// serves the share-partition (its rendezvous-hash owner) claims it
// (ClaimShare), which fences every earlier owner, and writes its state
// (WriteShare) whenever acknowledgements or lock timeouts change it; each
// write replaces the share-partition's whole persisted state, a few runs
// long. An owner that takes over loads the state its claim sees: records
// acknowledged or archived stay done, records that were acquired come back
// as available with the delivery count they had, so acquired-but-unacked
// records are delivered again, never acknowledged ones.
//
// As in Kafka's persister, only three states are stored: Available,
// Acknowledged and Archived. Acquired is memory only: a write records an
// acquired record as Available with its delivery count.

// Persisted record states, with Kafka's values (RecordState).
const (
	ShareAvailable    int8 = 0
	ShareAcknowledged int8 = 2
	ShareArchived     int8 = 4
)

// maxShareBatches bounds the runs of one share-partition write.
const maxShareBatches = 1 << 16

// ShareState is one share-partition's persisted state.
type ShareState struct {
	TopicID TopicID `json:"topic_id"`
	// Claim is the latest owner's claim; writes under any other fail.
	Claim GroupClaim `json:"claim"`
	// StartOffset is the SPSO: every record below it is done.
	StartOffset int64 `json:"start"`
	// EndOffset is the first offset never acquired: records from it on
	// are available and were never delivered.
	EndOffset int64 `json:"end"`
	// Batches are the runs of [StartOffset, EndOffset) that are not
	// available-and-never-delivered, ascending and disjoint.
	Batches []ShareBatch `json:"batches,omitempty"`
	// Time is the entry time of the last write.
	Time int64 `json:"time,omitempty"`
}

// ShareBatch is a run of offsets with one state and delivery count.
type ShareBatch struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	State int8  `json:"state"`
	Count int16 `json:"count,omitempty"`
}

// ClaimShare makes Owner the owner of a share-partition (result's Claim).
// A share claim's epoch is the number of the entry that made it, so claims
// never repeat, even across a deletion of the state. A share-partition that has no state yet is
// initialised at the partition's log start (Reset "earliest") or end
// (anything else: Kafka's default, "latest"), as of this entry.
type ClaimShare struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"part"`
	Owner     string `json:"owner"`
	Reset     string `json:"reset,omitempty"`
}

// WriteShare replaces a share-partition's state. Claim is the writer's
// claim (NOT_COORDINATOR if it is no longer the latest); nil is an
// administrator's reset (AlterShareGroupOffsets), which also supersedes
// the current owner's claim so that it reloads.
type WriteShare struct {
	Group       string       `json:"group"`
	Topic       string       `json:"topic"`
	Partition   int32        `json:"part"`
	Claim       *GroupClaim  `json:"claim,omitempty"`
	StartOffset int64        `json:"start"`
	EndOffset   int64        `json:"end"`
	Batches     []ShareBatch `json:"batches,omitempty"`
}

// DeleteShare removes a share group's state for the named topics, or all
// of it and the group's configs when Topics is empty (DeleteGroups).
type DeleteShare struct {
	Group  string   `json:"group"`
	Topics []string `json:"topics,omitempty"`
}

// AlterGroupConfigs sets and removes a group's configs (GROUP resources of
// IncrementalAlterConfigs). Values are validated by the agent.
type AlterGroupConfigs struct {
	Group  string            `json:"group"`
	Set    map[string]string `json:"set,omitempty"`
	Delete []string          `json:"delete,omitempty"`
}

// Share returns a share-partition's state, or nil.
func (s *State) Share(group, topic string, partition int32) *ShareState {
	return s.Shares[group][partitionKey(topic, partition)]
}

func (s *State) claimShare(c *ClaimShare) Result {
	if c.Group == "" || c.Owner == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	t := s.Topics[c.Topic]
	p := s.Partition(c.Topic, c.Partition)
	if p == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	st := s.shareFor(c.Group, c.Topic, c.Partition, t.ID)
	if st.StartOffset < 0 { // never initialised
		start := p.NextOffset
		if c.Reset == "earliest" {
			start = p.StartOffset
		}
		st.StartOffset, st.EndOffset, st.Time = start, start, s.Time
	}
	st.Claim = GroupClaim{Coordinator: c.Owner, Epoch: int64(s.Seq)}
	claim := st.Claim
	return Result{Claim: &claim}
}

// shareFor returns the share-partition's state, made empty if it is new or
// belongs to an earlier topic of the same name.
func (s *State) shareFor(group, topic string, partition int32, id TopicID) *ShareState {
	parts := s.Shares[group]
	if parts == nil {
		parts = map[string]*ShareState{}
		s.Shares[group] = parts
	}
	key := partitionKey(topic, partition)
	st := parts[key]
	if st == nil || st.TopicID != id {
		st = &ShareState{TopicID: id, StartOffset: -1}
		parts[key] = st
	}
	return st
}

func (s *State) writeShare(c *WriteShare) Result {
	if c.Group == "" || c.StartOffset < 0 || c.EndOffset < c.StartOffset || len(c.Batches) > maxShareBatches {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	next := c.StartOffset
	for _, b := range c.Batches {
		if b.First < next || b.Last < b.First || b.Last >= c.EndOffset || b.Count < 0 ||
			(b.State != ShareAvailable && b.State != ShareAcknowledged && b.State != ShareArchived) {
			return Result{Code: kerr.InvalidRequest.Code}
		}
		next = b.Last + 1
	}
	t := s.Topics[c.Topic]
	if s.Partition(c.Topic, c.Partition) == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	if c.Claim != nil {
		st := s.Share(c.Group, c.Topic, c.Partition)
		if st == nil || st.TopicID != t.ID || st.Claim != *c.Claim {
			return Result{Code: kerr.NotCoordinator.Code}
		}
	}
	st := s.shareFor(c.Group, c.Topic, c.Partition, t.ID)
	if c.Claim == nil {
		st.Claim = GroupClaim{Epoch: int64(s.Seq)}
	}
	st.StartOffset, st.EndOffset, st.Time = c.StartOffset, c.EndOffset, s.Time
	st.Batches = append([]ShareBatch(nil), c.Batches...)
	return Result{}
}

func (s *State) deleteShare(c *DeleteShare) Result {
	parts := s.Shares[c.Group]
	if len(c.Topics) == 0 {
		_, configured := s.GroupConfigs[c.Group]
		if parts == nil && !configured {
			return Result{Code: kerr.GroupIDNotFound.Code}
		}
		delete(s.Shares, c.Group)
		delete(s.GroupConfigs, c.Group)
		return Result{}
	}
	drop := map[string]bool{}
	for _, t := range c.Topics {
		drop[t] = true
	}
	s.dropShares(c.Group, func(topic string) bool { return drop[topic] })
	return Result{}
}

// dropShares removes the share-partitions of group whose topic matches;
// an owner that held one finds its claim gone and reloads.
func (s *State) dropShares(group string, match func(topic string) bool) {
	parts := s.Shares[group]
	for key := range parts {
		topic := key[:lastSlash(key)]
		if match(topic) {
			delete(parts, key)
		}
	}
	if len(parts) == 0 {
		delete(s.Shares, group)
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return 0
}

func (s *State) alterGroupConfigs(c *AlterGroupConfigs) Result {
	if c.Group == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	cfg := s.GroupConfigs[c.Group]
	if cfg == nil {
		cfg = map[string]string{}
	}
	for _, k := range c.Delete {
		delete(cfg, k)
	}
	maps.Copy(cfg, c.Set)
	if len(cfg) == 0 {
		delete(s.GroupConfigs, c.Group)
	} else {
		s.GroupConfigs[c.Group] = cfg
	}
	return Result{}
}
