package journal

import (
	"fmt"

	"github.com/silt-io/silt/internal/acl"
)

// Command is one decision proposed to the journal. Exactly one field is set;
// in JSON it reads as {"create_topic": {...}}. New commands are added as new
// fields, so an old entry always decodes the same way.
type Command struct {
	// ID, when set, names the proposal the command belongs to, so that a
	// proposer that resends it after an ambiguous failure (a committer that
	// died mid-request) gets the first outcome back instead of applying it
	// twice. See State.Proposals.
	ID string `json:"id,omitempty"`

	InitCluster         *InitCluster         `json:"init_cluster,omitempty"`
	CreateTopic         *CreateTopic         `json:"create_topic,omitempty"`
	DeleteTopic         *DeleteTopic         `json:"delete_topic,omitempty"`
	CreatePartitions    *CreatePartitions    `json:"create_partitions,omitempty"`
	AlterConfigs        *AlterConfigs        `json:"alter_configs,omitempty"`
	CommitSegment       *CommitSegment       `json:"commit_segment,omitempty"`
	DeleteRecords       *DeleteRecords       `json:"delete_records,omitempty"`
	AllocateProducerIDs *AllocateProducerIDs `json:"allocate_producer_ids,omitempty"`
	CommitOffsets       *CommitOffsets       `json:"commit_offsets,omitempty"`
	DeleteGroupOffsets  *DeleteGroupOffsets  `json:"delete_group_offsets,omitempty"`
	ClaimGroup          *ClaimGroup          `json:"claim_group,omitempty"`
	StoreGroup          *StoreGroup          `json:"store_group,omitempty"`
	// StoreStreamsGroup: see apply_streams_groups.go.
	StoreStreamsGroup *StoreStreamsGroup `json:"store_streams_group,omitempty"`
	// StoreShareGroup: see apply_share_members.go.
	StoreShareGroup    *StoreShareGroup    `json:"store_share_group,omitempty"`
	SetClientQuota     *SetClientQuota     `json:"set_client_quota,omitempty"`
	SetScramCredential *SetScramCredential `json:"set_scram_credential,omitempty"`

	// ACL commands; see acls.go.
	CreateACL  *CreateACL  `json:"create_acl,omitempty"`
	DeleteACLs *DeleteACLs `json:"delete_acls,omitempty"`

	// Share-group commands; see apply_share.go.
	ClaimShare        *ClaimShare        `json:"claim_share,omitempty"`
	WriteShare        *WriteShare        `json:"write_share,omitempty"`
	DeleteShare       *DeleteShare       `json:"delete_share,omitempty"`
	AlterGroupConfigs *AlterGroupConfigs `json:"alter_group_configs,omitempty"`

	// Transaction commands; see apply_txn.go.
	ClaimTxn         *ClaimTxn         `json:"claim_txn,omitempty"`
	InitTxn          *InitTxn          `json:"init_txn,omitempty"`
	AddTxnPartitions *AddTxnPartitions `json:"add_txn_partitions,omitempty"`
	TxnOffsetCommit  *TxnOffsetCommit  `json:"txn_offset_commit,omitempty"`
	EndTxn           *EndTxn           `json:"end_txn,omitempty"`

	// Compactor commands; see apply_compaction.go.
	ReplaceChunks *ReplaceChunks `json:"replace_chunks,omitempty"`
	MarkGarbage   *MarkGarbage   `json:"mark_garbage,omitempty"`
	ForgetGarbage *ForgetGarbage `json:"forget_garbage,omitempty"`
	BeginExport   *BeginExport   `json:"begin_export,omitempty"`
	CommitExport  *CommitExport  `json:"commit_export,omitempty"`
}

// kind names the command for errors and logs.
func (c *Command) kind() string {
	switch {
	case c.InitCluster != nil:
		return "init_cluster"
	case c.CreateTopic != nil:
		return "create_topic"
	case c.DeleteTopic != nil:
		return "delete_topic"
	case c.CreatePartitions != nil:
		return "create_partitions"
	case c.AlterConfigs != nil:
		return "alter_configs"
	case c.CommitSegment != nil:
		return "commit_segment"
	case c.DeleteRecords != nil:
		return "delete_records"
	case c.AllocateProducerIDs != nil:
		return "allocate_producer_ids"
	case c.CommitOffsets != nil:
		return "commit_offsets"
	case c.DeleteGroupOffsets != nil:
		return "delete_group_offsets"
	case c.ClaimGroup != nil:
		return "claim_group"
	case c.StoreGroup != nil:
		return "store_group"
	case c.StoreStreamsGroup != nil:
		return "store_streams_group"
	case c.StoreShareGroup != nil:
		return "store_share_group"
	case c.ClaimShare != nil:
		return "claim_share"
	case c.WriteShare != nil:
		return "write_share"
	case c.DeleteShare != nil:
		return "delete_share"
	case c.AlterGroupConfigs != nil:
		return "alter_group_configs"
	case c.SetClientQuota != nil:
		return "set_client_quota"
	case c.CreateACL != nil:
		return "create_acl"
	case c.DeleteACLs != nil:
		return "delete_acls"
	case c.ClaimTxn != nil:
		return "claim_txn"
	case c.InitTxn != nil:
		return "init_txn"
	case c.AddTxnPartitions != nil:
		return "add_txn_partitions"
	case c.TxnOffsetCommit != nil:
		return "txn_offset_commit"
	case c.EndTxn != nil:
		return "end_txn"
	case c.SetScramCredential != nil:
		return "set_scram_credential"
	case c.ReplaceChunks != nil:
		return "replace_chunks"
	case c.MarkGarbage != nil:
		return "mark_garbage"
	case c.ForgetGarbage != nil:
		return "forget_garbage"
	case c.BeginExport != nil:
		return "begin_export"
	case c.CommitExport != nil:
		return "commit_export"
	}
	return "unknown"
}

// InitCluster names the cluster. Only the first entry of a journal may hold
// it; whoever writes entry 1 decides the cluster id.
type InitCluster struct {
	ClusterID string `json:"cluster_id"`
}

// CreateTopic creates a topic. Fails with TOPIC_ALREADY_EXISTS,
// INVALID_PARTITIONS or INVALID_TOPIC_EXCEPTION.
type CreateTopic struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// DeleteTopic deletes a topic and the group offsets committed for it. Its
// objects become garbage for the compactor to collect.
type DeleteTopic struct {
	Name string `json:"name"`
}

// CreatePartitions grows a topic to Count partitions.
type CreatePartitions struct {
	Name  string `json:"name"`
	Count int32  `json:"count"`
}

// AlterConfigs sets and removes a topic's explicit configs. Values are
// validated by the agent before it proposes the command. Replace removes
// every explicit config first, so Set becomes the whole set, as Kafka's
// non-incremental AlterConfigs does; it is decided at apply time, so a
// concurrent change cannot slip between reading the configs and writing.
type AlterConfigs struct {
	Topic   string            `json:"topic"`
	Set     map[string]string `json:"set,omitempty"`
	Delete  []string          `json:"delete,omitempty"`
	Replace bool              `json:"replace,omitempty"`
}

// CommitSegment commits the chunks of one uploaded segment object. Each
// chunk is given offsets in the order listed, after its batches pass the
// idempotent-producer checks.
//
// An inline segment travels in the journal entry itself, after the
// entry's commands (see Entry): one PUT instead of two. Its chunks then
// live in the entry's object, at DataPos within the entry's data, and Apply
// gives them the entry's key as their object; Object names the segment key
// it would otherwise have had. Data holds the segment's bytes on their way
// to Log.Append, in parts to be written back to back (segment.BuildParts),
// and is never encoded.
type CommitSegment struct {
	Object  string        `json:"obj"`
	Chunks  []ChunkCommit `json:"chunks"`
	Inline  bool          `json:"inline,omitempty"`
	DataPos int64         `json:"data_pos,omitempty"`
	Data    [][]byte      `json:"-"`
}

// ChunkCommit describes one partition's chunk in a segment.
type ChunkCommit struct {
	Topic     string  `json:"topic"`
	TopicID   TopicID `json:"topic_id"` // the topic the producer wrote to; a recreated topic rejects the chunk
	Partition int32   `json:"part"`
	Pos       int64   `json:"pos"`
	Len       int64   `json:"len"`
	RawLen    int64   `json:"raw"`
	Codec     uint8   `json:"codec,omitempty"`
	CRC       uint32  `json:"crc"`
	Batches   []Batch `json:"batches"`
}

// Batch is what the journal needs of one record batch in a chunk.
type Batch struct {
	Records      int32 `json:"n"` // LastOffsetDelta+1: the offsets it takes
	MaxTimestamp int64 `json:"maxts"`
	// ProducerID is -1 for a producer that is not idempotent.
	ProducerID    int64 `json:"pid"`
	ProducerEpoch int16 `json:"epoch,omitempty"`
	BaseSequence  int32 `json:"seq,omitempty"`
	// Txn marks a transactional batch (see apply_txn.go).
	Txn bool `json:"txn,omitempty"`
	// TxnAdd lets a transactional batch add its partition to its
	// producer's transaction (Produce v12+, transaction version 2).
	TxnAdd bool `json:"txnadd,omitempty"`
}

// DeleteRecords advances a partition's log start offset (Kafka's
// DeleteRecords; retention uses it too). Offset -1 means the high watermark.
type DeleteRecords struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"part"`
	Offset    int64  `json:"offset"`
}

// AllocateProducerIDs reserves a block of Count producer ids; the result
// carries the first. Agents hand ids out of the block without a journal
// write per client.
type AllocateProducerIDs struct {
	Count int64 `json:"count"`
}

// CommitOffsets commits consumer-group offsets. A coordinator sets Claim
// to its claim on the group: the commit fails with NOT_COORDINATOR if
// another agent has claimed the group since (see ClaimGroup).
type CommitOffsets struct {
	Group   string         `json:"group"`
	Offsets []OffsetCommit `json:"offsets"`
	Claim   *GroupClaim    `json:"claim,omitempty"`
}

// OffsetCommit is one partition's committed offset.
type OffsetCommit struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"part"`
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"epoch"`
	Metadata    string `json:"meta,omitempty"`
}

// DeleteGroupOffsets removes a group's offsets: all of them (DeleteGroups,
// expiry) or the listed partitions (OffsetDelete).
type DeleteGroupOffsets struct {
	Group      string           `json:"group"`
	Partitions []TopicPartition `json:"parts,omitempty"` // empty: the whole group
	Claim      *GroupClaim      `json:"claim,omitempty"` // as in CommitOffsets
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"part"`
}

// Result is the outcome of applying one command.
type Result struct {
	// Code is the Kafka error code for the command as a whole (0: applied).
	Code int16 `json:"code,omitempty"`
	// Chunks holds, for CommitSegment, each chunk's batch outcomes in order.
	Chunks [][]BatchResult `json:"chunks,omitempty"`
	// Object and Base say, for an inline CommitSegment, where its chunks
	// landed: in Object (the entry's key), at Base plus their positions.
	Object string `json:"object,omitempty"`
	Base   int64  `json:"base,omitempty"`
	// FirstProducerID is the first id of an AllocateProducerIDs block, and
	// the producer id InitTxn and EndTxn leave a transactional id with.
	FirstProducerID int64 `json:"first_pid,omitempty"`
	// ProducerEpoch is the epoch InitTxn and EndTxn leave it with.
	ProducerEpoch int16 `json:"pepoch,omitempty"`
	// Offset is the new log start offset of DeleteRecords.
	Offset int64 `json:"offset,omitempty"`
	// TopicID is the id of a created topic.
	TopicID TopicID `json:"topic_id,omitzero"`
	// Partitions holds per-partition codes for CommitOffsets.
	Partitions []int16 `json:"parts,omitempty"`
	// Claim is the claim a ClaimGroup made.
	Claim *GroupClaim `json:"claim,omitempty"`
	// ACLs lists the bindings a DeleteACLs removed.
	ACLs []acl.Binding `json:"acls,omitempty"`
}

// BatchResult is the outcome of committing one batch.
type BatchResult struct {
	Code int16 `json:"code,omitempty"`
	// BaseOffset is the batch's first offset; for a duplicate, the offset
	// the original was given.
	BaseOffset int64 `json:"offset"`
	// Duplicate reports an idempotent retry of a batch already committed.
	Duplicate bool `json:"dup,omitempty"`
	// LogStartOffset is the partition's log start offset after the commit.
	LogStartOffset int64 `json:"start"`
}

func (c *Command) validate() error {
	n := 0
	for _, set := range []bool{c.InitCluster != nil, c.CreateTopic != nil, c.DeleteTopic != nil,
		c.CreatePartitions != nil, c.AlterConfigs != nil, c.CommitSegment != nil, c.DeleteRecords != nil,
		c.AllocateProducerIDs != nil, c.CommitOffsets != nil, c.DeleteGroupOffsets != nil, c.ClaimGroup != nil, c.StoreGroup != nil,
		c.ClaimShare != nil, c.WriteShare != nil, c.DeleteShare != nil, c.AlterGroupConfigs != nil,
		c.ReplaceChunks != nil, c.MarkGarbage != nil, c.ForgetGarbage != nil, c.BeginExport != nil, c.CommitExport != nil,
		c.SetClientQuota != nil, c.CreateACL != nil, c.DeleteACLs != nil, c.ClaimTxn != nil, c.InitTxn != nil, c.AddTxnPartitions != nil, c.TxnOffsetCommit != nil, c.EndTxn != nil, c.SetScramCredential != nil, c.StoreStreamsGroup != nil, c.StoreShareGroup != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("command has %d kinds set, want 1", n)
	}
	return nil
}
