package agent

import (
	"crypto/sha256"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
)

// Kafka's internal topics. silt keeps what they hold in the journal; of
// them, __consumer_offsets is shown, read-only and derived from the journal
// (agent/offsetstopic), so that Metadata lists it as internal and tools that
// read it find committed offsets and groups. No topic of an internal name
// can be created or written: creating one is TOPIC_ALREADY_EXISTS (it
// exists, as on Kafka), producing to one INVALID_TOPIC_EXCEPTION (Kafka
// refuses clients' appends to internal topics).

// internalTopic reports whether name is one of Kafka's internal topics.
func internalTopic(name string) bool {
	switch name {
	case offsetstopic.Topic, "__transaction_state", "__share_group_state":
		return true
	}
	return false
}

// offsetsTopicID is __consumer_offsets' topic id: derived from the cluster
// id, so every agent gives the same.
func offsetsTopicID(s *journal.State) [16]byte {
	sum := sha256.Sum256([]byte("silt internal topic " + offsetstopic.Topic + " of cluster " + s.ClusterID))
	var id [16]byte
	copy(id[:], sum[:16])
	return id
}

// offsetsTopicMetadata describes __consumer_offsets for Metadata.
func (a *Agent) offsetsTopicMetadata(s *journal.State, members []gossip.Member) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := offsetstopic.Topic
	st.Topic, st.TopicID, st.IsInternal = &name, offsetsTopicID(s), true
	for p := range int32(offsetstopic.Partitions) {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = p
		owner := a.partitionOwner(members, name, p)
		sp.Leader, sp.LeaderEpoch = owner, leaderEpoch
		sp.Replicas, sp.ISR = []int32{owner}, []int32{owner}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}

// fetchOffsetsTopic answers a Fetch of one __consumer_offsets partition
// from the state: its records at or after offset, at most limit bytes (at
// least one record when atLeastOne).
func fetchOffsetsTopic(s *journal.State, partition int32, offset int64, limit int, atLeastOne bool, sp *kmsg.FetchResponseTopicPartition) {
	end := offsetstopic.End(s)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = end, end, 0
	switch {
	case partition < 0 || partition >= offsetstopic.Partitions:
		sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return
	case offset < 0 || offset > end:
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return
	}
	if !atLeastOne && limit <= 0 {
		return
	}
	b, err := offsetstopic.Batches(s, partition, offset, max(limit, 1))
	if err != nil {
		sp.ErrorCode = kerr.UnknownServerError.Code
		return
	}
	if len(b) > limit && !atLeastOne {
		return
	}
	sp.RecordBatches = b
}

// listOffsetsTopic answers a ListOffsets of one __consumer_offsets
// partition: earliest 0, latest the end, a timestamp the first record at
// or after it.
func listOffsetsTopic(s *journal.State, partition int32, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) int16 {
	if partition < 0 || partition >= offsetstopic.Partitions {
		return kerr.UnknownTopicOrPartition.Code
	}
	end := offsetstopic.End(s)
	switch ts {
	case -2:
		sp.Offset = 0
	case -1:
		sp.Offset = end
	default:
		sp.Offset = end
		var best int64 = -1
		for _, r := range offsetstopic.Records(s, partition) {
			if (ts == -3 && r.Timestamp > best) || (ts >= 0 && r.Timestamp >= ts && sp.Offset == end) {
				sp.Offset, sp.Timestamp, best = r.Offset, r.Timestamp, r.Timestamp
			}
		}
	}
	return 0
}
