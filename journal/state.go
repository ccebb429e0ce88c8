package journal

import (
	"sort"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/internal/scram"
)

// State is the cluster state after applying entries 1..Seq. It is changed
// only by Apply; everything else reads it. A State is not safe for
// concurrent use: Log guards the one it owns.
type State struct {
	// Seq is the number of the last entry applied (0: none).
	Seq uint64 `json:"seq"`
	// Time is the writer's clock (unix ms) in the last entry applied. It is
	// the only notion of time Apply has.
	Time      int64  `json:"time"`
	ClusterID string `json:"cluster_id"`

	Topics map[string]*Topic `json:"topics"`

	// NextProducerID is the first producer id not yet allocated.
	NextProducerID int64               `json:"next_pid"`
	Producers      map[int64]*Producer `json:"producers,omitempty"`
	// LastExpiry is when producer state was last expired (entry time).
	LastExpiry int64 `json:"last_expiry"`

	// Groups maps group → topic → partition → committed offset.
	Groups map[string]map[string]map[int32]GroupOffset `json:"groups,omitempty"`
	// ClientQuotas holds the client quotas, by entity (see quotas.go).
	ClientQuotas map[string]*ClientQuota `json:"client_quotas,omitempty"`
	// ACLs holds the ACL bindings, by acl.Binding.Key (acls.go).
	ACLs map[string]acl.Binding `json:"acls,omitempty"`
	// ACLVersion is the entry that last changed ACLs (0: never), so an
	// authorizer knows when to rebuild its index.
	ACLVersion uint64 `json:"acl_version,omitempty"`
	// ScramCredentials maps user → mechanism → SCRAM credential
	// (credentials.go).
	ScramCredentials map[string]map[string]scram.Credential `json:"scram_credentials,omitempty"`

	// GroupClaims holds each group's latest coordinator claim.
	GroupClaims map[string]GroupClaim `json:"group_claims,omitempty"`
	// GroupMeta holds each group's membership as its coordinator last
	// stored it (apply_group_meta.go).
	GroupMeta map[string]*GroupMeta `json:"group_meta,omitempty"`
	// StreamsGroups holds each streams group as its coordinator last
	// stored it (apply_streams_groups.go).
	StreamsGroups map[string]*StreamsGroupMeta `json:"streams_groups,omitempty"`
	// ShareGroupMembers holds each share group's membership as its
	// coordinator last stored it (apply_share_members.go).
	ShareGroupMembers map[string]*ShareGroupMeta `json:"share_group_members,omitempty"`
	// Shares maps share group → "topic/partition" → the share-partition's
	// state (apply_share.go).
	Shares map[string]map[string]*ShareState `json:"shares,omitempty"`
	// GroupConfigs holds each group's explicit configs
	// (share.auto.offset.reset, share.record.lock.duration.ms…).
	GroupConfigs map[string]map[string]string `json:"group_configs,omitempty"`

	// Txns holds each transactional id's coordinator state, and
	// TxnClaims its coordinator's latest claim (apply_txn.go).
	Txns      map[string]*TxnState  `json:"txns,omitempty"`
	TxnClaims map[string]GroupClaim `json:"txn_claims,omitempty"`

	// Proposals remembers the outcome of recent commands that carried an
	// ID, by ID, for ProposalWindowMs of entry time.
	Proposals map[string]ProposalOutcome `json:"proposals,omitempty"`
	// LastProposalExpiry is when Proposals was last pruned (entry time).
	LastProposalExpiry int64 `json:"last_proposal_expiry,omitempty"`

	// Garbage maps objects that nothing references any more to the entry
	// time (ms) they were found unreferenced; the compactor deletes them a
	// grace period later. See apply_compaction.go.
	Garbage map[string]int64 `json:"garbage,omitempty"`
	// Compaction holds the compactor's per-partition progress (export,
	// cleaning), by topic id and partition.
	Compaction map[TopicID]map[int32]*CompactionProgress `json:"compaction,omitempty"`

	byID map[TopicID]*Topic // derived from Topics
	// entryDataOffset is, while Apply runs, where the entry's data begins
	// in its object (0: the entry carries none).
	entryDataOffset int64
	// groupRecords counts, while Apply runs, the entry's group records.
	groupRecords int32
}

// NewState returns the state before entry 1.
func NewState() *State {
	s := &State{}
	s.init()
	return s
}

// init makes the maps and the derived indexes; Apply and snapshot decoding
// rely on it.
func (s *State) init() {
	if s.Topics == nil {
		s.Topics = map[string]*Topic{}
	}
	if s.Producers == nil {
		s.Producers = map[int64]*Producer{}
	}
	if s.ClientQuotas == nil {
		s.ClientQuotas = map[string]*ClientQuota{}
	}
	if s.ACLs == nil {
		s.ACLs = map[string]acl.Binding{}
	}
	if s.ScramCredentials == nil {
		s.ScramCredentials = map[string]map[string]scram.Credential{}
	}
	if s.GroupClaims == nil {
		s.GroupClaims = map[string]GroupClaim{}
	}
	if s.Txns == nil {
		s.Txns = map[string]*TxnState{}
	}
	if s.TxnClaims == nil {
		s.TxnClaims = map[string]GroupClaim{}
	}
	if s.Proposals == nil {
		s.Proposals = map[string]ProposalOutcome{}
	}
	if s.Groups == nil {
		s.Groups = map[string]map[string]map[int32]GroupOffset{}
	}
	if s.GroupMeta == nil {
		s.GroupMeta = map[string]*GroupMeta{}
	}
	if s.StreamsGroups == nil {
		s.StreamsGroups = map[string]*StreamsGroupMeta{}
	}
	if s.ShareGroupMembers == nil {
		s.ShareGroupMembers = map[string]*ShareGroupMeta{}
	}
	if s.Shares == nil {
		s.Shares = map[string]map[string]*ShareState{}
	}
	if s.GroupConfigs == nil {
		s.GroupConfigs = map[string]map[string]string{}
	}
	if s.Garbage == nil {
		s.Garbage = map[string]int64{}
	}
	if s.Compaction == nil {
		s.Compaction = map[TopicID]map[int32]*CompactionProgress{}
	}
	s.byID = make(map[TopicID]*Topic, len(s.Topics))
	for _, t := range s.Topics {
		s.byID[t.ID] = t
	}
}

// Topic returns the named topic, or nil.
func (s *State) Topic(name string) *Topic { return s.Topics[name] }

// TopicByID returns the topic with that id, or nil.
func (s *State) TopicByID(id TopicID) *Topic { return s.byID[id] }

// Partition returns a partition, or nil if the topic or partition does not
// exist.
func (s *State) Partition(topic string, partition int32) *Partition {
	t := s.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil
	}
	return t.Partitions[partition]
}

// TopicNames returns the topic names, sorted.
func (s *State) TopicNames() []string {
	names := make([]string, 0, len(s.Topics))
	for n := range s.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FindChunk returns the index of the chunk holding offset, or -1 if offset
// is outside [StartOffset, NextOffset). A fetch at an offset reads from that
// chunk onwards.
func (p *Partition) FindChunk(offset int64) int {
	if offset < p.StartOffset || offset >= p.NextOffset {
		return -1
	}
	// The first chunk whose NextOffset is past offset holds it.
	i := sort.Search(len(p.Chunks), func(i int) bool { return p.Chunks[i].NextOffset > offset })
	if i == len(p.Chunks) {
		return -1
	}
	return i
}

// OffsetForTimestamp returns the offset of the first chunk whose batches
// may hold a record with a timestamp at or after ts, and whether there is
// one. Chunk timestamps are only maxima, so the caller refines the answer
// by reading the chunk's records.
func (p *Partition) OffsetForTimestamp(ts int64) (chunk int, ok bool) {
	for i := range p.Chunks {
		if p.Chunks[i].MaxTimestamp >= ts && p.Chunks[i].NextOffset > p.StartOffset {
			return i, true
		}
	}
	return -1, false
}

// Bytes returns the partition's stored size (decoded chunk lengths), for
// retention.bytes and DescribeLogDirs.
func (p *Partition) Bytes() int64 {
	var n int64
	for i := range p.Chunks {
		n += p.Chunks[i].RawLen
	}
	return n
}

// GroupOffset returns a committed offset.
func (s *State) GroupOffset(group, topic string, partition int32) (GroupOffset, bool) {
	o, ok := s.Groups[group][topic][partition]
	return o, ok
}

// nextRecordPos places the next group record of the entry being applied.
func (s *State) nextRecordPos() RecordPos {
	p := RecordPos{Seq: s.Seq, Rank: s.groupRecords}
	s.groupRecords++
	return p
}
