package journal

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
)

// TopicID is a topic's 16-byte UUID (KIP-516). It is derived from the topic
// name and the entry that created it, so a topic deleted and created again
// gets a new id and every agent computes the same one.
type TopicID [16]byte

func newTopicID(clusterID, name string, seq uint64) TopicID {
	h := sha256.Sum256([]byte(clusterID + "\x00" + name + "\x00" + strconv.FormatUint(seq, 10)))
	var id TopicID
	copy(id[:], h[:16])
	id[6] = id[6]&0x0f | 0x40 // version 4 layout, as Kafka's random ids have
	id[8] = id[8]&0x3f | 0x80
	return id
}

// String renders the id as Kafka does: URL-safe base64 without padding.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *TopicID) UnmarshalText(b []byte) error {
	n, err := base64.RawURLEncoding.Decode(id[:], b)
	if err != nil || n != 16 {
		return fmt.Errorf("topic id %q: not 16 bytes of base64", b)
	}
	return nil
}

// Topic is one topic's metadata and log index.
type Topic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"` // only values set explicitly
	Partitions []*Partition      `json:"partitions"`
	CreatedSeq uint64            `json:"created_seq"`
}

// Partition is one partition's log: its offsets and where its batches live.
type Partition struct {
	// StartOffset is the log start offset: records below it were deleted
	// (DeleteRecords, retention).
	StartOffset int64 `json:"start"`
	// NextOffset is the offset the next committed record gets: the high
	// watermark and log end offset (silt has no uncommitted tail).
	NextOffset int64 `json:"next"`
	// Chunks cover [first chunk's BaseOffset, NextOffset) without gaps, in
	// offset order. Chunks wholly below StartOffset are dropped.
	Chunks []Chunk `json:"chunks,omitempty"`
	// OpenTxns maps each producer with an open transaction on the
	// partition to its first offset in it; the earliest holds back the
	// last stable offset (apply_txn.go).
	OpenTxns map[int64]int64 `json:"open_txns,omitempty"`
	// Aborted is the aborted-transaction index, in offset order.
	Aborted []AbortedTxn `json:"aborted,omitempty"`
}

// Chunk locates a run of one partition's record batches inside an object in
// the bucket, and the offsets they were given when committed.
type Chunk struct {
	Object string `json:"obj"` // object key, e.g. segments/ab/<id>.seg
	Pos    int64  `json:"pos"` // byte position of the stored chunk in the object
	Len    int64  `json:"len"` // stored length
	RawLen int64  `json:"raw"` // decoded length (the batches)
	Codec  uint8  `json:"codec,omitempty"`
	CRC    uint32 `json:"crc"`
	// BaseOffset is the offset of the first record served from the chunk
	// and NextOffset the offset after its last.
	BaseOffset int64 `json:"base"`
	NextOffset int64 `json:"next"`
	// MaxTimestamp is the largest batch MaxTimestamp in the chunk, for
	// ListOffsets by time.
	MaxTimestamp int64 `json:"maxts"`
	// Skip lists, ascending, the batches of the chunk that the journal
	// rejected (idempotent duplicates, sequence errors): a fetch drops them.
	Skip []int32 `json:"skip,omitempty"`
	// Written is the time (entry time, ms) the chunk was committed; the
	// compactor's merge window reads it for chunks whose object name
	// carries no time (inline segments, in journal entries).
	Written int64 `json:"written,omitempty"`
	// Marker, when set, makes the chunk a transaction marker: one control
	// batch that has no object, its bytes built from the marker
	// (chunkread.MarkerBatch).
	Marker *TxnMarker `json:"marker,omitempty"`
}

// Records returns the number of offsets the chunk covers.
func (c *Chunk) Records() int64 { return c.NextOffset - c.BaseOffset }

// Producer is an idempotent producer's state: its epoch and, per partition,
// the last batches it wrote, so a retry is recognised as a duplicate.
type Producer struct {
	Epoch    int16 `json:"epoch"`
	LastSeen int64 `json:"seen"` // entry time (ms) of its last write
	// TxnID is the transactional id the producer id belongs to, if any.
	TxnID string `json:"txn,omitempty"`
	// Partitions maps "topic/partition" to the most recent batches, oldest
	// first, at most MaxProducerBatches.
	Partitions map[string][]ProducedBatch `json:"parts,omitempty"`
}

// MaxProducerBatches is how many recent batches per producer and partition
// are kept for duplicate detection, as in Kafka (and the most a producer
// may have in flight).
const MaxProducerBatches = 5

// ProducedBatch is what duplicate detection remembers of a batch.
type ProducedBatch struct {
	FirstSeq   int32 `json:"first"`
	LastSeq    int32 `json:"last"`
	BaseOffset int64 `json:"offset"`
}

// GroupOffset is one committed consumer-group offset.
type GroupOffset struct {
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"epoch"`
	Metadata    string `json:"meta,omitempty"`
	CommitTime  int64  `json:"time"` // entry time (ms)
	// At is where the commit happened in the journal, which orders it
	// among the group records that __consumer_offsets shows.
	At RecordPos `json:"at,omitzero"`
}

// RecordPos places a group record (a commit, a stored membership) in the
// journal: the entry that applied it and its rank among the entry's group
// records. Older entries carry none (zero).
type RecordPos struct {
	Seq  uint64 `json:"seq"`
	Rank int32  `json:"rank,omitempty"`
}

func partitionKey(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}
