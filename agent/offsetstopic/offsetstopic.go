// Package offsetstopic shows the journal's group state as Kafka's internal
// __consumer_offsets topic, read-only, so the tools that read that topic to
// learn committed offsets and group membership (Burrow, kminion, Kafka's
// own console consumer with its formatters) and clients that must tell an
// internal topic from others (regex subscriptions) find it as on Kafka.
//
// silt keeps committed offsets and groups in the journal, not in a topic.
// The topic is derived from the journal's state: each partition holds, for
// the groups that hash to it as Kafka hashes them, the latest offset commit
// of every group, topic and partition, and the latest stored membership of
// every classic group, in Kafka's own key and value formats. It is a
// compacted view: an older commit of a key is gone, as after Kafka's log
// cleaner ran. A record's offset is where it was applied in the journal —
// the entry's sequence number shifted left by 20 bits, plus the record's
// rank in the entry — so offsets are the same on every agent, only grow,
// and a consumer at the end receives the next commit when it is applied.
// Commits from before silt recorded that position (rank and sequence zero)
// come first, in key order.
//
// KIP-848 groups' membership records are not shown (their offsets are);
// deletions leave no tombstone: a deleted key is simply absent.
package offsetstopic

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// Topic is the internal topic's name.
const Topic = "__consumer_offsets"

// Partitions is offsets.topic.num.partitions, Kafka's default.
const Partitions = 50

// rankBits is how many low bits of an offset hold the record's rank within
// its journal entry.
const rankBits = 20

// PartitionFor returns the partition of a group's records, as Kafka picks
// it: the Java hash code of the group id, made non-negative, modulo the
// partition count.
func PartitionFor(group string) int32 {
	var h int32
	for _, r := range group {
		if r >= 0x10000 { // a surrogate pair in Java's UTF-16
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return (h & 0x7fffffff) % Partitions
}

// End returns the partitions' high watermark in state s: past every record
// s holds, and at or below the offset of any record applied later.
func End(s *journal.State) int64 { return int64(s.Seq+1) << rankBits }

// Record is one record of the topic.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
}

// Records returns the records of one partition in s, in offset order.
func Records(s *journal.State, partition int32) []Record {
	type placed struct {
		at  journal.RecordPos
		key string // orders records with no position
		rec Record
	}
	var out []placed
	for group, topics := range s.Groups {
		if PartitionFor(group) != partition {
			continue
		}
		for topic, parts := range topics {
			for p, o := range parts {
				key := kmsg.OffsetCommitKey{Version: 1, Group: group, Topic: topic, Partition: p}
				val := kmsg.OffsetCommitValue{Version: 3, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTimestamp: o.CommitTime}
				k := key.AppendTo(nil)
				out = append(out, placed{o.At, string(k), Record{Timestamp: o.CommitTime, Key: k, Value: val.AppendTo(nil)}})
			}
		}
	}
	for group, m := range s.GroupMeta {
		if PartitionFor(group) != partition || m.Classic == nil {
			continue
		}
		key := kmsg.GroupMetadataKey{Version: 2, Group: group}
		k := key.AppendTo(nil)
		out = append(out, placed{m.At, string(k), Record{Timestamp: m.Time, Key: k, Value: groupValue(m)}})
	}
	slices.SortFunc(out, func(a, b placed) int {
		if c := cmp.Compare(a.at.Seq, b.at.Seq); c != 0 {
			return c
		}
		if c := cmp.Compare(a.at.Rank, b.at.Rank); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	recs := make([]Record, len(out))
	legacy := int64(0)
	for i, p := range out {
		recs[i] = p.rec
		if p.at.Seq == 0 {
			recs[i].Offset = legacy
			legacy++
			continue
		}
		recs[i].Offset = int64(p.at.Seq)<<rankBits | int64(p.at.Rank)
	}
	return recs
}

// groupValue renders a classic group's stored membership as Kafka's
// GroupMetadataValue (version 3, the last before flexible versions).
func groupValue(m *journal.GroupMeta) []byte {
	c := m.Classic
	v := kmsg.GroupMetadataValue{Version: 3, ProtocolType: c.ProtocolType, Generation: c.Generation, CurrentStateTimestamp: m.Time}
	if c.Protocol != "" {
		p, l := c.Protocol, c.Leader
		v.Protocol, v.Leader = &p, &l
	}
	for _, mm := range c.Members {
		v.Members = append(v.Members, kmsg.GroupMetadataValueMember{
			MemberID: mm.ID, InstanceID: mm.InstanceID, ClientID: mm.ClientID, ClientHost: mm.ClientHost,
			RebalanceTimeoutMillis: mm.RebalanceTimeoutMs, SessionTimeoutMillis: mm.SessionTimeoutMs,
			Subscription: mm.Metadata, Assignment: mm.Assignment,
		})
	}
	return v.AppendTo(nil)
}

// Batches renders the partition's records at or after offset as record
// batches, one record each (so every batch keeps its record's offset), up
// to about maxBytes: at least one batch if any record qualifies, as Kafka
// returns at least one batch however small the limit.
func Batches(s *journal.State, partition int32, offset int64, maxBytes int) ([]byte, error) {
	var out []byte
	for _, r := range Records(s, partition) {
		if r.Offset < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(r.Key)+len(r.Value)+recordbatch.HeaderSize+32 > maxBytes {
			break
		}
		b, err := recordbatch.Encode(recordbatch.Header{
			BaseOffset: r.Offset, FirstTimestamp: r.Timestamp, MaxTimestamp: r.Timestamp,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		}, []recordbatch.Record{{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}}, recordbatch.CodecNone)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}
