package journal

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Limits enforced when commands are applied, so that no entry can make the
// state unreasonable whatever an agent proposes.
const (
	// MaxPartitions bounds one topic's partition count.
	MaxPartitions = 10000
	// MaxTopicNameLength is Kafka's limit.
	MaxTopicNameLength = 249
	// producerExpiryMs is how long an idle producer's state is kept
	// (Kafka's transactional.id.expiration.ms default, 7 days).
	producerExpiryMs = 7 * 24 * 3600 * 1000
	// expiryIntervalMs is how often Apply looks for idle producers.
	expiryIntervalMs = 60 * 1000
)

// ValidTopicName reports whether name is a legal Kafka topic name: 1 to 249
// characters of [a-zA-Z0-9._-], and not "." or "..".
func ValidTopicName(name string) bool {
	if name == "" || len(name) > MaxTopicNameLength || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Apply applies entry e, which must be entry s.Seq+1, and returns the
// outcome of each of its commands. It is deterministic: the same state and
// entry give the same new state and results on every agent.
func (s *State) Apply(e *Entry) ([]Result, error) {
	if e.Seq != s.Seq+1 {
		return nil, fmt.Errorf("apply entry %d to state at %d", e.Seq, s.Seq)
	}
	if e.Version > EntryVersion {
		return nil, fmt.Errorf("entry %d has format version %d; this silt reads up to %d", e.Seq, e.Version, EntryVersion)
	}
	s.Seq = e.Seq
	if e.Time > s.Time {
		s.Time = e.Time // never backwards, whatever the writers' clocks say
	}
	results := make([]Result, len(e.Commands))
	s.entryDataOffset = e.DataOffset
	s.groupRecords = 0
	defer func() { s.entryDataOffset = 0 }()
	for i := range e.Commands {
		results[i] = s.applyOnce(&e.Commands[i])
	}
	s.expireProducers()
	s.expireProposals()
	return results, nil
}

func (s *State) apply(c *Command) Result {
	if err := c.validate(); err != nil {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	switch {
	case c.InitCluster != nil:
		if s.ClusterID != "" {
			return Result{Code: kerr.InvalidRequest.Code}
		}
		s.ClusterID = c.InitCluster.ClusterID
		return Result{}
	case c.CreateTopic != nil:
		return s.createTopic(c.CreateTopic)
	case c.DeleteTopic != nil:
		return s.deleteTopic(c.DeleteTopic)
	case c.CreatePartitions != nil:
		return s.createPartitions(c.CreatePartitions)
	case c.AlterConfigs != nil:
		return s.alterConfigs(c.AlterConfigs)
	case c.CommitSegment != nil:
		return s.commitSegment(c.CommitSegment)
	case c.DeleteRecords != nil:
		return s.deleteRecords(c.DeleteRecords)
	case c.AllocateProducerIDs != nil:
		n := c.AllocateProducerIDs.Count
		if n <= 0 || n > 1<<20 {
			return Result{Code: kerr.InvalidRequest.Code}
		}
		first := s.NextProducerID
		s.NextProducerID += n
		return Result{FirstProducerID: first}
	case c.CommitOffsets != nil:
		return s.commitOffsets(c.CommitOffsets)
	case c.DeleteGroupOffsets != nil:
		return s.deleteGroupOffsets(c.DeleteGroupOffsets)
	case c.ClaimGroup != nil:
		return s.claimGroup(c.ClaimGroup)
	case c.StoreGroup != nil:
		return s.storeGroup(c.StoreGroup)
	case c.StoreStreamsGroup != nil:
		return s.storeStreamsGroup(c.StoreStreamsGroup)
	case c.StoreShareGroup != nil:
		return s.storeShareGroup(c.StoreShareGroup)
	case c.ClaimShare != nil:
		return s.claimShare(c.ClaimShare)
	case c.WriteShare != nil:
		return s.writeShare(c.WriteShare)
	case c.DeleteShare != nil:
		return s.deleteShare(c.DeleteShare)
	case c.AlterGroupConfigs != nil:
		return s.alterGroupConfigs(c.AlterGroupConfigs)
	case c.SetClientQuota != nil:
		return s.setClientQuota(c.SetClientQuota)
	case c.CreateACL != nil:
		return s.createACL(c.CreateACL)
	case c.DeleteACLs != nil:
		return s.deleteACLs(c.DeleteACLs)
	case c.ClaimTxn != nil:
		return s.claimTxn(c.ClaimTxn)
	case c.InitTxn != nil:
		return s.initTxn(c.InitTxn)
	case c.AddTxnPartitions != nil:
		return s.addTxnPartitions(c.AddTxnPartitions)
	case c.TxnOffsetCommit != nil:
		return s.txnOffsetCommit(c.TxnOffsetCommit)
	case c.EndTxn != nil:
		return s.endTxn(c.EndTxn)
	case c.SetScramCredential != nil:
		return s.setScramCredential(c.SetScramCredential)
	case c.ReplaceChunks != nil:
		return s.replaceChunks(c.ReplaceChunks)
	case c.MarkGarbage != nil:
		return s.markGarbage(c.MarkGarbage)
	case c.ForgetGarbage != nil:
		return s.forgetGarbage(c.ForgetGarbage)
	case c.BeginExport != nil:
		return s.beginExport(c.BeginExport)
	case c.CommitExport != nil:
		return s.commitExport(c.CommitExport)
	}
	return Result{Code: kerr.InvalidRequest.Code}
}

func (s *State) createTopic(c *CreateTopic) Result {
	switch {
	case !ValidTopicName(c.Name):
		return Result{Code: kerr.InvalidTopicException.Code}
	case s.Topics[c.Name] != nil:
		return Result{Code: kerr.TopicAlreadyExists.Code}
	case c.Partitions < 1 || c.Partitions > MaxPartitions:
		return Result{Code: kerr.InvalidPartitions.Code}
	}
	t := &Topic{
		Name:       c.Name,
		ID:         newTopicID(s.ClusterID, c.Name, s.Seq),
		Configs:    maps.Clone(c.Configs),
		Partitions: make([]*Partition, c.Partitions),
		CreatedSeq: s.Seq,
	}
	for i := range t.Partitions {
		t.Partitions[i] = &Partition{}
	}
	s.Topics[c.Name] = t
	s.byID[t.ID] = t
	return Result{TopicID: t.ID}
}

func (s *State) deleteTopic(c *DeleteTopic) Result {
	t := s.Topics[c.Name]
	if t == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	delete(s.Topics, c.Name)
	delete(s.byID, t.ID)
	for group, topics := range s.Groups {
		delete(topics, c.Name)
		if len(topics) == 0 {
			delete(s.Groups, group)
		}
	}
	for group := range s.Shares {
		s.dropShares(group, func(topic string) bool { return topic == c.Name })
	}
	return Result{TopicID: t.ID}
}

func (s *State) createPartitions(c *CreatePartitions) Result {
	t := s.Topics[c.Name]
	switch {
	case t == nil:
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	case c.Count <= int32(len(t.Partitions)) || c.Count > MaxPartitions:
		return Result{Code: kerr.InvalidPartitions.Code}
	}
	for len(t.Partitions) < int(c.Count) {
		t.Partitions = append(t.Partitions, &Partition{})
	}
	return Result{}
}

func (s *State) alterConfigs(c *AlterConfigs) Result {
	t := s.Topics[c.Topic]
	if t == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	if t.Configs == nil || c.Replace {
		t.Configs = map[string]string{}
	}
	for _, k := range c.Delete {
		delete(t.Configs, k)
	}
	maps.Copy(t.Configs, c.Set)
	return Result{}
}

func (s *State) deleteRecords(c *DeleteRecords) Result {
	p := s.Partition(c.Topic, c.Partition)
	if p == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	off := c.Offset
	if off == -1 {
		off = p.NextOffset
	}
	if off < 0 || off > p.NextOffset {
		return Result{Code: kerr.OffsetOutOfRange.Code, Offset: p.StartOffset}
	}
	if off > p.StartOffset {
		p.StartOffset = off
		// Drop the chunks that lie wholly below the new start.
		i := 0
		for i < len(p.Chunks) && p.Chunks[i].NextOffset <= off {
			i++
		}
		p.Chunks = append([]Chunk(nil), p.Chunks[i:]...)
		p.Aborted = slices.DeleteFunc(p.Aborted, func(a AbortedTxn) bool { return a.LastOffset < off })
	}
	return Result{Offset: p.StartOffset}
}

func (s *State) commitOffsets(c *CommitOffsets) Result {
	res := Result{Partitions: make([]int16, len(c.Offsets))}
	if !s.claimHolds(c.Group, c.Claim) {
		for i := range res.Partitions {
			res.Partitions[i] = kerr.NotCoordinator.Code
		}
		res.Code = kerr.NotCoordinator.Code
		return res
	}
	for i, o := range c.Offsets {
		if s.Partition(o.Topic, o.Partition) == nil {
			res.Partitions[i] = kerr.UnknownTopicOrPartition.Code
			continue
		}
		topics := s.Groups[c.Group]
		if topics == nil {
			topics = map[string]map[int32]GroupOffset{}
			s.Groups[c.Group] = topics
		}
		parts := topics[o.Topic]
		if parts == nil {
			parts = map[int32]GroupOffset{}
			topics[o.Topic] = parts
		}
		parts[o.Partition] = GroupOffset{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: s.Time, At: s.nextRecordPos()}
	}
	return res
}

func (s *State) deleteGroupOffsets(c *DeleteGroupOffsets) Result {
	if !s.claimHolds(c.Group, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	topics := s.Groups[c.Group]
	if len(c.Partitions) == 0 {
		// The whole group: its offsets and its stored membership.
		_, hasMeta := s.GroupMeta[c.Group]
		if topics == nil && !hasMeta {
			return Result{Code: kerr.GroupIDNotFound.Code}
		}
		delete(s.Groups, c.Group)
		delete(s.GroupMeta, c.Group)
		return Result{}
	}
	if topics == nil {
		return Result{Code: kerr.GroupIDNotFound.Code}
	}
	for _, tp := range c.Partitions {
		delete(topics[tp.Topic], tp.Partition)
		if len(topics[tp.Topic]) == 0 {
			delete(topics, tp.Topic)
		}
	}
	if len(topics) == 0 {
		delete(s.Groups, c.Group)
	}
	return Result{}
}

func (s *State) expireProducers() {
	if s.Time-s.LastExpiry < expiryIntervalMs {
		return
	}
	s.LastExpiry = s.Time
	for id, p := range s.Producers {
		if s.Time-p.LastSeen > producerExpiryMs {
			delete(s.Producers, id)
		}
	}
	s.expireTxns()
}
